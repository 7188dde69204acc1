// The namespaces nearly every activity uses.
global using MathV2.Core;
global using Microsoft.DurableTask;
global using MathV2.Core.Laps;
global using MathV2.Core.Artifacts;
global using MathV2.Core.Storage;
global using MathV2.Core.Datasets;
global using MathV2.Core.Method;
global using MathV2.Core.Search;
global using MathV2.Core.Jobs;
