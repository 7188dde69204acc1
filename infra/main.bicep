// MathV2 on Azure: one storage account, the Durable Functions app (Flex Consumption), monitoring, and the
// GPU worker on Container Apps serverless GPUs. Deploy into an existing resource group (README.md).
targetScope = 'resourceGroup'

@description('Azure region for every resource; it must offer Flex Consumption and serverless GPUs.')
param location string = resourceGroup().location

@description('Prefix of resource names: 3-11 lowercase letters and digits.')
@minLength(3)
@maxLength(11)
param namePrefix string = 'mathv2'

@description('Durable task hub name (MATHV2_TASKHUB): 3-45 letters and digits, starting with a letter.')
@minLength(3)
@maxLength(45)
param taskHub string = 'mathv2'

@description('Serverless GPU workload profile of the worker.')
@allowed([
  'Consumption-GPU-NC24-A100'
  'Consumption-GPU-NC8as-T4'
])
param gpuProfileType string = 'Consumption-GPU-NC24-A100'

@description('Most GPU worker replicas.')
@minValue(1)
@maxValue(100)
param maxWorkers int = 4

@description('Worker container image, e.g. myregistry.azurecr.io/mathv2-worker:cuda; empty: the image the worker runs now (workerExists), or a placeholder until `azd deploy` (or `az containerapp update --image`) sets it.')
param workerImage string = ''

@description('Whether the worker app exists already (azd sets SERVICE_WORKER_RESOURCE_EXISTS): with workerImage empty, a re-provision keeps its image.')
param workerExists bool = false

@description('Create a container registry in this resource group for the worker image (azd pushes there), unless registryServer names one of your own.')
param createRegistry bool = true

@description('Registry login server the worker pulls from with its identity (e.g. myregistry.azurecr.io); empty: the registry created here, or a public image.')
param registryServer string = ''

@description('Resource id of an Azure Container Registry to grant the worker AcrPull on; empty to grant it yourself.')
param registryResourceId string = ''

@description('MATHV2_WORKER_MEMORY_GB: memory (GB) a job may plan for.')
@minValue(1)
param workerMemoryGb int = 80

var prefix = toLower(namePrefix)
var suffix = uniqueString(resourceGroup().id)
var ownRegistry = createRegistry && empty(registryServer)
var placeholderImage = 'mcr.microsoft.com/azuredocs/containerapps-helloworld:latest'
var workerName = 'ca-${prefix}-worker'
var deploymentContainerName = 'app-package'
// A well-formed id even when registryResourceId is empty: ARM evaluates the conditional module's scope anyway.
var registryIdParts = split(
  empty(registryResourceId)
    ? '${resourceGroup().id}/providers/Microsoft.ContainerRegistry/registries/none'
    : registryResourceId,
  '/'
)

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: take('${prefix}${suffix}', 24)
    location: location
    deploymentContainerName: deploymentContainerName
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    workspaceName: 'log-${prefix}-${suffix}'
    appInsightsName: 'appi-${prefix}-${suffix}'
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    location: location
    storageAccountName: storage.outputs.name
    functionsIdentityName: 'id-${prefix}-func'
    workerIdentityName: 'id-${prefix}-worker'
  }
}

// The registry the worker image is pushed to, with AcrPull for the worker identity.
module registry 'modules/registry.bicep' = if (ownRegistry) {
  name: 'registry'
  params: {
    name: 'cr${prefix}${suffix}'
    location: location
    principalId: roles.outputs.workerPrincipalId
    identityId: roles.outputs.workerIdentityId
  }
}

var workerRegistry = ownRegistry ? registry!.outputs.loginServer : registryServer

module existingImage 'modules/worker-image.bicep' = if (empty(workerImage)) {
  name: 'worker-image'
  params: {
    workerName: workerName
    exists: workerExists
    placeholder: placeholderImage
  }
}

// AcrPull at the registry's own resource group (it may live elsewhere in the subscription or another one).
module acrPull 'modules/acr-pull.bicep' = if (!empty(registryResourceId)) {
  name: 'acr-pull'
  scope: resourceGroup(registryIdParts[2], registryIdParts[4])
  params: {
    registryName: last(registryIdParts)
    principalId: roles.outputs.workerPrincipalId
    identityId: roles.outputs.workerIdentityId
  }
}

module functions 'modules/functions.bicep' = {
  name: 'functions'
  params: {
    location: location
    planName: 'plan-${prefix}-${suffix}'
    appName: 'func-${prefix}-${suffix}'
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainerName
    appInsightsName: monitoring.outputs.appInsightsName
    identityId: roles.outputs.functionsIdentityId
    identityClientId: roles.outputs.functionsIdentityClientId
    taskHub: taskHub
  }
}

module worker 'modules/worker.bicep' = {
  name: 'worker'
  params: {
    location: location
    environmentName: 'cae-${prefix}-${suffix}'
    workerName: workerName
    workspaceName: monitoring.outputs.workspaceName
    gpuProfileType: gpuProfileType
    maxWorkers: maxWorkers
    workerImage: empty(workerImage) ? existingImage!.outputs.image : workerImage
    registryServer: workerRegistry
    identityId: roles.outputs.workerIdentityId
    identityClientId: roles.outputs.workerIdentityClientId
    storageAccountName: storage.outputs.name
    workerMemoryGb: workerMemoryGb
    appInsightsName: monitoring.outputs.appInsightsName
  }
  dependsOn: [
    acrPull // the first revision pulls the image at once (the registry created here: through its output)
  ]
}

output functionAppName string = functions.outputs.name
output functionAppUrl string = functions.outputs.url
output storageAccountName string = storage.outputs.name
output containerAppsEnvironmentName string = worker.outputs.environmentName
@description('The GPU worker is a Container App (see modules/worker.bicep), not a Container Apps job.')
output workerAppName string = worker.outputs.workerName
output appInsightsName string = monitoring.outputs.appInsightsName
@description('Where `azd deploy` pushes the worker image (the registry created here, or registryServer).')
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = workerRegistry
