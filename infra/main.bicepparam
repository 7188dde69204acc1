// Example parameters: replace the placeholders, then see README.md for the deploy command.
using 'main.bicep'

param namePrefix = 'mathv2'
param taskHub = 'mathv2'
param gpuProfileType = 'Consumption-GPU-NC24-A100'
param maxWorkers = 4
param workerImage = '<registry>.azurecr.io/mathv2-worker:<tag>'
param registryServer = '<registry>.azurecr.io'
// '/subscriptions/<sub-id>/resourceGroups/<rg>/providers/Microsoft.ContainerRegistry/registries/<registry>' grants AcrPull.
param registryResourceId = ''
param workerMemoryGb = 80
