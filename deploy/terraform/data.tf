# Shared state: Cosmos DB for MongoDB (RU), Azure Cache for Redis, Blob Storage for staged
# uploads. Each is reachable only through its private endpoint in the virtual network.

resource "azurerm_cosmosdb_account" "main" {
  #checkov:skip=CKV_AZURE_100:Data is encrypted at rest with service-managed keys; customer-managed keys need a Key Vault key, an operator's choice.
  #checkov:skip=CKV_AZURE_140:The Mongo API (RU) authenticates with account keys in the connection string; Entra ID-only auth is for the NoSQL API.
  name                               = "${var.prefix}-cosmos"
  location                           = azurerm_resource_group.main.location
  resource_group_name                = azurerm_resource_group.main.name
  offer_type                         = "Standard"
  kind                               = "MongoDB"
  mongo_server_version               = "7.0"
  public_network_access_enabled      = false
  is_virtual_network_filter_enabled  = true
  access_key_metadata_writes_enabled = false
  minimal_tls_version                = "Tls12"
  automatic_failover_enabled         = true
  tags                               = var.tags

  capabilities {
    name = "EnableMongo"
  }

  consistency_policy {
    consistency_level = "Session"
  }

  geo_location {
    location          = azurerm_resource_group.main.location
    failover_priority = 0
    zone_redundant    = length(var.availability_zones) > 0
  }

  backup {
    type = "Continuous"
    tier = "Continuous7Days"
  }
}

resource "azurerm_cosmosdb_mongo_database" "main" {
  name                = "supportbot"
  resource_group_name = azurerm_resource_group.main.name
  account_name        = azurerm_cosmosdb_account.main.name

  autoscale_settings {
    max_throughput = var.cosmos_max_throughput
  }
}

resource "azurerm_private_endpoint" "cosmos" {
  name                = "${var.prefix}-cosmos-pe"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  subnet_id           = azurerm_subnet.endpoints.id
  tags                = var.tags

  private_service_connection {
    name                           = "cosmos"
    private_connection_resource_id = azurerm_cosmosdb_account.main.id
    subresource_names              = ["MongoDB"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "mongo"
    private_dns_zone_ids = [azurerm_private_dns_zone.zones["mongo"].id]
  }
}

resource "azurerm_redis_cache" "main" {
  name                          = "${var.prefix}-redis"
  location                      = azurerm_resource_group.main.location
  resource_group_name           = azurerm_resource_group.main.name
  sku_name                      = var.redis_sku
  family                        = var.redis_sku == "Premium" ? "P" : "C"
  capacity                      = var.redis_capacity
  redis_version                 = "6"
  minimum_tls_version           = "1.2"
  non_ssl_port_enabled          = false
  public_network_access_enabled = false
  zones                         = var.redis_sku == "Premium" ? var.availability_zones : null
  tags                          = var.tags

  redis_configuration {
    # The app degrades to in-process caching when Redis is unreachable; evict rather than fail.
    maxmemory_policy = "allkeys-lru"
  }
}

resource "azurerm_private_endpoint" "redis" {
  name                = "${var.prefix}-redis-pe"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  subnet_id           = azurerm_subnet.endpoints.id
  tags                = var.tags

  private_service_connection {
    name                           = "redis"
    private_connection_resource_id = azurerm_redis_cache.main.id
    subresource_names              = ["redisCache"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "redis"
    private_dns_zone_ids = [azurerm_private_dns_zone.zones["redis"].id]
  }
}

# Staged uploads (planned, issue 13: the app still stages uploads on local disk).
resource "azurerm_storage_account" "main" {
  #checkov:skip=CKV_AZURE_206:Staged uploads live minutes (deleted when their job ends, expired after 2 days); zone-redundant storage is enough, a second region adds nothing.
  #checkov:skip=CKV_AZURE_33:No queues are used; blob logs go to Log Analytics (azurerm_monitor_diagnostic_setting.blob).
  #checkov:skip=CKV2_AZURE_1:Blobs are encrypted with Microsoft-managed keys; customer-managed keys need a Key Vault key, an operator's choice.
  name                            = "${var.prefix}uploads"
  location                        = azurerm_resource_group.main.location
  resource_group_name             = azurerm_resource_group.main.name
  account_tier                    = "Standard"
  account_kind                    = "StorageV2"
  account_replication_type        = "ZRS"
  min_tls_version                 = "TLS1_2"
  https_traffic_only_enabled      = true
  public_network_access_enabled   = false
  allow_nested_items_to_be_public = false
  shared_access_key_enabled       = false
  local_user_enabled              = false
  default_to_oauth_authentication = true
  tags                            = var.tags

  network_rules {
    default_action = "Deny"
    bypass         = ["AzureServices"]
  }

  blob_properties {
    delete_retention_policy {
      days = 7
    }
    container_delete_retention_policy {
      days = 7
    }
  }

  sas_policy {
    expiration_period = "0.01:00:00"
  }
}

resource "azurerm_storage_container" "uploads" {
  #checkov:skip=CKV2_AZURE_21:Blob read/write/delete logs go to Log Analytics through azurerm_monitor_diagnostic_setting.blob; storage insights would need an account key, and shared keys are off.
  name                  = "staged-uploads"
  storage_account_id    = azurerm_storage_account.main.id
  container_access_type = "private"
}

# Staged files are deleted when their job ends; this rule removes any a crash left behind.
resource "azurerm_storage_management_policy" "uploads" {
  storage_account_id = azurerm_storage_account.main.id

  rule {
    name    = "expire-staged-uploads"
    enabled = true
    filters {
      prefix_match = ["staged-uploads/"]
      blob_types   = ["blockBlob"]
    }
    actions {
      base_blob {
        delete_after_days_since_modification_greater_than = 2
      }
    }
  }
}

resource "azurerm_private_endpoint" "blob" {
  name                = "${var.prefix}-blob-pe"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  subnet_id           = azurerm_subnet.endpoints.id
  tags                = var.tags

  private_service_connection {
    name                           = "blob"
    private_connection_resource_id = azurerm_storage_account.main.id
    subresource_names              = ["blob"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "blob"
    private_dns_zone_ids = [azurerm_private_dns_zone.zones["blob"].id]
  }
}

# The pods' identity for Blob Storage (Entra ID workload identity, no keys): the Kubernetes
# service account supportbot/supportbot may act as it.
resource "azurerm_user_assigned_identity" "app" {
  name                = "${var.prefix}-app"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  tags                = var.tags
}

resource "azurerm_federated_identity_credential" "app" {
  name                = "supportbot-service-account"
  resource_group_name = azurerm_resource_group.main.name
  parent_id           = azurerm_user_assigned_identity.app.id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = azurerm_kubernetes_cluster.main.oidc_issuer_url
  subject             = "system:serviceaccount:supportbot:supportbot"
}

resource "azurerm_role_assignment" "app_blob" {
  scope                = azurerm_storage_container.uploads.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.app.principal_id
}

# Resource logs of the data services, for incident review.
resource "azurerm_monitor_diagnostic_setting" "cosmos" {
  name                       = "to-log-analytics"
  target_resource_id         = azurerm_cosmosdb_account.main.id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.main.id

  enabled_log {
    category = "MongoRequests"
  }
}

resource "azurerm_monitor_diagnostic_setting" "redis" {
  name                       = "to-log-analytics"
  target_resource_id         = azurerm_redis_cache.main.id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.main.id

  enabled_log {
    category = "ConnectedClientList"
  }
}

resource "azurerm_monitor_diagnostic_setting" "blob" {
  name                       = "to-log-analytics"
  target_resource_id         = "${azurerm_storage_account.main.id}/blobServices/default"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.main.id

  enabled_log {
    category = "StorageRead"
  }
  enabled_log {
    category = "StorageWrite"
  }
  enabled_log {
    category = "StorageDelete"
  }
}
