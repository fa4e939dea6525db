# Names and endpoints only. No key, connection string or kubeconfig is an output: get them
# with `az` when you create the Kubernetes Secret (../README.md), so they never sit in
# `terraform output` or a CI log.

output "resource_group_name" {
  description = "Resource group holding everything."
  value       = azurerm_resource_group.main.name
}

output "aks_cluster_name" {
  description = "For `az aks get-credentials`."
  value       = azurerm_kubernetes_cluster.main.name
}

output "aks_oidc_issuer_url" {
  description = "OIDC issuer of the cluster (workload identity)."
  value       = azurerm_kubernetes_cluster.main.oidc_issuer_url
}

output "acr_login_server" {
  description = "Registry to push the image to (the production overlay's image name)."
  value       = azurerm_container_registry.main.login_server
}

output "cosmos_account_name" {
  description = "Cosmos DB account; its Mongo connection string comes from `az cosmosdb keys list`."
  value       = azurerm_cosmosdb_account.main.name
}

output "cosmos_database_name" {
  description = "MONGODB_NAME for the ConfigMap."
  value       = azurerm_cosmosdb_mongo_database.main.name
}

output "redis_hostname" {
  description = "Redis host; REDIS_URL is rediss://:<key>@<host>:<port>/0 (key from `az redis list-keys`)."
  value       = azurerm_redis_cache.main.hostname
}

output "redis_ssl_port" {
  description = "Redis TLS port."
  value       = azurerm_redis_cache.main.ssl_port
}

output "storage_account_name" {
  description = "Storage account for staged uploads."
  value       = azurerm_storage_account.main.name
}

output "storage_blob_endpoint" {
  description = "Blob endpoint (resolves to the private endpoint inside the VNet)."
  value       = azurerm_storage_account.main.primary_blob_endpoint
}

output "uploads_container_name" {
  description = "Container for staged uploads."
  value       = azurerm_storage_container.uploads.name
}

output "app_identity_client_id" {
  description = "Client id for the service account annotation azure.workload.identity/client-id."
  value       = azurerm_user_assigned_identity.app.client_id
}

output "log_analytics_workspace_id" {
  description = "Workspace of the container, control-plane and resource logs."
  value       = azurerm_log_analytics_workspace.main.id
}

output "application_insights_name" {
  description = "Application Insights component (its connection string: `az monitor app-insights component show`)."
  value       = azurerm_application_insights.main.name
}
