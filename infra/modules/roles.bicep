// User-assigned identities for the Functions app and the GPU worker, and their data-plane roles on the storage
// account (scope: the account only). Created before the apps, so the roles exist when the apps first start.

@description('Azure region.')
param location string

@description('Name of the storage account the roles are scoped to.')
param storageAccountName string

@description('Name of the Functions app identity.')
param functionsIdentityName string

@description('Name of the GPU worker identity.')
param workerIdentityName string

// Built-in role definition ids (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}

// Functions host storage needs Blob Data Owner; the Durable Azure Storage provider adds Queue and Table Data
// Contributor (Blob Data Contributor is inside Owner). The same roles cover MathV2's own store and the
// job-events queue trigger, and the Flex deployment container.
var functionsRoles = [
  roles.storageBlobDataOwner
  roles.storageQueueDataContributor
  roles.storageTableDataContributor
]

// The worker reads/writes blobs, dequeues gpu-jobs, writes job records and job-events.
var workerRoles = [
  roles.storageBlobDataContributor
  roles.storageQueueDataContributor
  roles.storageTableDataContributor
]

resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: storageAccountName
}

resource functionsIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: functionsIdentityName
  location: location
}

resource workerIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: workerIdentityName
  location: location
}

resource functionsAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in functionsRoles: {
    name: guid(storage.id, functionsIdentity.id, roleId)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: functionsIdentity.properties.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource workerAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in workerRoles: {
    name: guid(storage.id, workerIdentity.id, roleId)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: workerIdentity.properties.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

output functionsIdentityId string = functionsIdentity.id
output functionsIdentityClientId string = functionsIdentity.properties.clientId
output workerIdentityId string = workerIdentity.id
output workerIdentityClientId string = workerIdentity.properties.clientId
output workerPrincipalId string = workerIdentity.properties.principalId
