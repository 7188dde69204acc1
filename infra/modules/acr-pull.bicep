// AcrPull for the worker identity on an existing container registry (deployed at the registry's resource group).

@description('Name of the existing Azure Container Registry.')
param registryName string

@description('Principal (object) id of the identity that pulls images.')
param principalId string

@description('Resource id of that identity (keeps the assignment name deterministic).')
param identityId string

var acrPullRoleId = '7f951dda-4ed3-4680-a7ca-43fe172d538d'

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
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
