using MathV2.Activities;
using MathV2.Api;
using MathV2.Core.Storage;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
builder.Services.AddMathV2Services(_ => MathV2Storage.FromEnvironment()).AddMathV2Activities();
builder.Build().Run();
