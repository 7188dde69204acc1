// Container Apps environment (Consumption + serverless GPU profile) and the GPU worker (src/Gpu.Worker).
//
// The worker is a Container App scaled 0..maxWorkers by KEDA's azure-queue scaler on gpu-jobs, not an
// event-driven Container Apps job: Gpu.Worker is a long-running consumer (it polls until SIGTERM and never
// exits on its own), so a job execution would only end at its replica timeout. Both resource types accept a
// managed identity on the scale rule (`identity`); switch to a job only if the worker gains a run-once mode.
// A scale-in may stop a busy replica: the worker then drops the job, its lease lapses and another attempt runs.

@description('Azure region (must offer serverless GPUs).')
param location string

@description('Container Apps environment name.')
param environmentName string

@description('Worker container app name.')
param workerName string

@description('Log Analytics workspace that receives the environment\'s logs.')
param workspaceName string

@description('Serverless GPU workload profile type.')
@allowed([
  'Consumption-GPU-NC24-A100'
  'Consumption-GPU-NC8as-T4'
])
param gpuProfileType string

@description('Most worker replicas (one GPU each).')
@minValue(1)
@maxValue(100)
param maxWorkers int

@description('Worker image, e.g. myregistry.azurecr.io/mathv2-worker:latest.')
param workerImage string

@description('Registry login server to pull with the worker identity; empty for a public image.')
param registryServer string

@description('Resource id of the worker\'s user-assigned identity.')
param identityId string

@description('Client id of that identity (MATHV2_STORAGE__clientId).')
param identityClientId string

@description('Storage account name (MATHV2_STORAGE__accountName and the scaler).')
param storageAccountName string

@description('MATHV2_WORKER_MEMORY_GB: memory a job may plan for.')
param workerMemoryGb int

@description('Application Insights component the worker sends its traces and metrics to (APPLICATIONINSIGHTS_CONNECTION_STRING).')
param appInsightsName string

// Per-replica resources of the serverless GPU profiles (workload-profiles-overview: 8-24 vCPU, 56-220 GiB).
var gpuResources = {
  'Consumption-GPU-NC24-A100': { cpu: 24, memory: '220Gi' }
  'Consumption-GPU-NC8as-T4': { cpu: 8, memory: '56Gi' }
}
var gpuProfileName = 'gpu'

resource workspace 'Microsoft.OperationalInsights/workspaces@2025-02-01' existing = {
  name: workspaceName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// The worker's console logs go to Log Analytics (appLogsConfiguration); its traces and metrics go to Application
// Insights from the process itself (the Azure Monitor exporter, APPLICATIONINSIGHTS_CONNECTION_STRING below).
resource environment 'Microsoft.App/managedEnvironments@2025-01-01' = {
  name: environmentName
  location: location
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: workspace.properties.customerId
        sharedKey: workspace.listKeys().primarySharedKey
      }
    }
    workloadProfiles: [
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
      {
        name: gpuProfileName
        workloadProfileType: gpuProfileType
      }
    ]
  }
}

resource worker 'Microsoft.App/containerApps@2025-01-01' = {
  name: workerName
  location: location
  tags: {
    'azd-service-name': 'worker' // azure.yaml's service: `azd deploy` sets this app's image
  }
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    environmentId: environment.id
    workloadProfileName: gpuProfileName
    configuration: {
      activeRevisionsMode: 'Single'
      secrets: [
        {
          name: 'appinsights-connection-string'
          value: appInsights.properties.ConnectionString
        }
      ]
      registries: empty(registryServer)
        ? []
        : [
            {
              server: registryServer
              identity: identityId
            }
          ]
    }
    template: {
      containers: [
        {
          name: 'worker'
          image: workerImage
          resources: {
            cpu: gpuResources[gpuProfileType].cpu
            memory: gpuResources[gpuProfileType].memory
          }
          env: [
            { name: 'MATHV2_STORAGE__accountName', value: storageAccountName }
            { name: 'MATHV2_STORAGE__clientId', value: identityClientId }
            { name: 'MATHV2_STORAGE__blobServiceUri', value: 'https://${storageAccountName}.blob.${az.environment().suffixes.storage}' }
            { name: 'MATHV2_STORAGE__queueServiceUri', value: 'https://${storageAccountName}.queue.${az.environment().suffixes.storage}' }
            { name: 'MATHV2_STORAGE__tableServiceUri', value: 'https://${storageAccountName}.table.${az.environment().suffixes.storage}' }
            { name: 'MATHV2_WORKER_MEMORY_GB', value: string(workerMemoryGb) }
            { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', secretRef: 'appinsights-connection-string' }
          ]
        }
      ]
      scale: {
        minReplicas: 0
        maxReplicas: maxWorkers
        rules: [
          {
            name: 'gpu-jobs'
            azureQueue: {
              accountName: storageAccountName
              queueName: 'gpu-jobs'
              queueLength: 1
              identity: identityId // scaler reads the queue length with the worker identity
            }
          }
        ]
      }
    }
  }
}

output environmentName string = environment.name
output workerName string = worker.name
