// The image the worker runs after this deployment: the one it runs now when the app exists (azd's
// SERVICE_WORKER_RESOURCE_EXISTS), so re-provisioning keeps what `azd deploy` put there; else the placeholder.

@description('Worker container app name.')
param workerName string

@description('Whether the app exists already.')
param exists bool

@description('Image for a new app, until the first deploy sets the worker image.')
param placeholder string

resource current 'Microsoft.App/containerApps@2025-01-01' existing = if (exists) {
  name: workerName
}

output image string = exists ? current!.properties.template.containers[0].image : placeholder
