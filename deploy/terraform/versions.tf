# Providers are pinned exactly: a plan made today is the plan made tomorrow. Raise the pin on
# purpose (and commit the .terraform.lock.hcl that `terraform init` writes).
terraform {
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "= 4.55.0"
    }
  }

  # Remote state in a storage account you create once (see ../README.md). The state holds the
  # Cosmos DB and Redis keys in clear: keep that account private and its access audited.
  backend "azurerm" {}
}

provider "azurerm" {
  features {
    # The storage account has no public endpoint: manage it through ARM only, so a plan run
    # from outside the virtual network never calls its (unreachable) data plane.
    storage {
      data_plane_available = false
    }
  }
  # Shared keys are off on the storage account: any data-plane call uses Entra ID.
  storage_use_azuread = true
}
