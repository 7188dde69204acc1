// The container registry for the worker image (azd pushes there; modules/worker.bicep pulls with the worker
// identity) and AcrPull for that identity. No admin user: identities reach it.

@description('Registry name: 5-50 letters and digits.')
@minLength(5)
@maxLength(50)
param name string

@description('Azure region.')
param location string

@description('Principal (object) id of the identity that pulls images.')
param principalId string

@description('Resource id of that identity (keeps the assignment name deterministic).')
param identityId string

var acrPullRoleId = '7f951dda-4ed3-4680-a7ca-43fe172d538d'

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: name
  location: location
  sku: {
    name: 'Basic'
  }
  properties: {
    adminUserEnabled: false
  }
}

resource acrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, identityId, acrPullRoleId)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPullRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = registry.name
output loginServer string = registry.properties.loginServer
