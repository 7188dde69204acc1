// Parameters, each from an environment variable when set (`azd env set NAME value`, or the shell that runs
// `az deployment group create`), else the default here. See README.md.
using 'main.bicep'

param namePrefix = readEnvironmentVariable('MATHV2_NAME_PREFIX', 'mathv2')
param taskHub = readEnvironmentVariable('MATHV2_TASK_HUB', 'mathv2')
param gpuProfileType = readEnvironmentVariable('MATHV2_GPU_PROFILE', 'Consumption-GPU-NC24-A100')
param maxWorkers = int(readEnvironmentVariable('MATHV2_MAX_WORKERS', '4'))
param workerMemoryGb = int(readEnvironmentVariable('MATHV2_WORKER_MEMORY_GB', '80'))
// Empty: the image the worker runs now, or a placeholder until `azd deploy` pushes and sets the built image.
param workerImage = readEnvironmentVariable('MATHV2_WORKER_IMAGE', '')
// azd sets it before provisioning: true once the worker app exists.
param workerExists = bool(readEnvironmentVariable('SERVICE_WORKER_RESOURCE_EXISTS', 'false'))
// Empty: a registry is created in the resource group. Else your registry's login server, and its resource id to grant AcrPull.
param registryServer = readEnvironmentVariable('MATHV2_REGISTRY_SERVER', '')
param registryResourceId = readEnvironmentVariable('MATHV2_REGISTRY_RESOURCE_ID', '')
