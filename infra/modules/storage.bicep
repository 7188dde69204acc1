// The one storage account: Functions host + Durable task hub, MathV2's own blobs/tables/queues, the Flex deployment package.
// Shared keys are off: every client (Functions host, app, worker, KEDA scaler) authenticates with Entra ID.

@description('Storage account name (3-24 lowercase letters and digits, globally unique).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region.')
param location string

@description('Blob container that holds the Functions app deployment package (Flex Consumption).')
param deploymentContainerName string

// Names the code relies on (src/Core/Storage/MathV2Storage.cs, StorageNames).
var blobContainers = ['jobs', 'datasets', 'checkpoints', 'laps', 'annotations', deploymentContainerName]
var tableNames = ['jobs', 'artifacts', 'lineage', 'workers', 'uploads']
var queueNames = ['gpu-jobs', 'job-events', 'gpu-jobs-poison', 'job-events-poison']

resource account 'Microsoft.Storage/storageAccounts@2025-01-01' = {
  name: name
  location: location
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowCrossTenantReplication: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2025-01-01' = {
  parent: account
  name: 'default'
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-01-01' = [
  for c in blobContainers: {
    parent: blobService
    name: c
    properties: {
      publicAccess: 'None'
    }
  }
]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2025-01-01' = {
  parent: account
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2025-01-01' = [
  for t in tableNames: {
    parent: tableService
    name: t
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2025-01-01' = {
  parent: account
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2025-01-01' = [
  for q in queueNames: {
    parent: queueService
    name: q
  }
]

output name string = account.name
output id string = account.id
@description('Blob endpoint, e.g. https://<account>.blob.<suffix>/ (from the resource, no hard-coded cloud URL).')
output blobEndpoint string = account.properties.primaryEndpoints.blob
