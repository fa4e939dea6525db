variable "prefix" {
  description = "Short lowercase name prefix for every resource (3-10 letters or digits)."
  type        = string
  default     = "supportbot"
  validation {
    condition     = can(regex("^[a-z][a-z0-9]{2,9}$", var.prefix))
    error_message = "prefix must be 3-10 lowercase letters or digits, starting with a letter."
  }
}

variable "location" {
  description = "Azure region for every resource."
  type        = string
  default     = "westeurope"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = { app = "supportbot" }
}

variable "kubernetes_version" {
  description = "AKS minor version; the manifests in ../k8s are validated against it in CI."
  type        = string
  default     = "1.34"
}

variable "api_server_authorized_ip_ranges" {
  description = "CIDRs allowed to reach the Kubernetes API (your office, CI runners)."
  type        = list(string)
  validation {
    condition     = length(var.api_server_authorized_ip_ranges) > 0
    error_message = "Name at least one CIDR: the API server is never open to the internet."
  }
}

variable "aks_admin_group_object_ids" {
  description = "Entra ID groups that administer the cluster (local accounts are disabled)."
  type        = list(string)
}

variable "system_node_vm_size" {
  description = "VM size of the system node pool (critical add-ons only)."
  type        = string
  default     = "Standard_D2ds_v5"
}

variable "app_node_vm_size" {
  description = "VM size of the application node pool (API and workers); needs a temp disk for ephemeral OS disks."
  type        = string
  default     = "Standard_D4ds_v5"
}

variable "app_node_min_count" {
  description = "Fewest application nodes (the cluster autoscaler adds more)."
  type        = number
  default     = 3
}

variable "app_node_max_count" {
  description = "Most application nodes."
  type        = number
  default     = 6
}

variable "availability_zones" {
  description = "Zones for nodes and zone-redundant services; empty in regions without zones."
  type        = list(string)
  default     = ["1", "2", "3"]
}

variable "cosmos_max_throughput" {
  description = "Autoscale ceiling of the shared database throughput, in RU/s."
  type        = number
  default     = 4000
}

variable "redis_sku" {
  description = "Azure Cache for Redis SKU: Standard (replicated) or Premium."
  type        = string
  default     = "Standard"
  validation {
    condition     = contains(["Standard", "Premium"], var.redis_sku)
    error_message = "Use Standard or Premium: Basic has no replica and no SLA."
  }
}

variable "redis_capacity" {
  description = "Azure Cache for Redis size within the SKU family (C1 = 1 GB)."
  type        = number
  default     = 1
}

variable "log_retention_days" {
  description = "Days Log Analytics keeps logs."
  type        = number
  default     = 30
}

variable "vnet_address_space" {
  description = "Address space of the virtual network (nodes and private endpoints)."
  type        = string
  default     = "10.20.0.0/16"
}
