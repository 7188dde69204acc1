using MathV2.Functions;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;

var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
try { FunctionsSetup.Configure(builder); }
catch (MathV2.Core.SettingsException e) { Console.Error.WriteLine($"mathv2 functions: {e.Message}"); return 2; }
builder.Build().Run();
return 0;
