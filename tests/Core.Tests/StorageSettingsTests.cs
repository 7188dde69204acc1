using MathV2.Core.Storage;

namespace MathV2.Core.Tests;

/// <summary>How a process finds its storage account: a connection string, or an identity with the account's endpoints.</summary>
public sealed class StorageSettingsTests
{
    static MathV2Storage From(Dictionary<string, string> values, bool emulator = false) =>
        MathV2Storage.FromSettings(new Settings(name => values.GetValueOrDefault(name)), emulator);

    [Fact]
    public void A_connection_string_wins_and_azurite_is_only_a_fallback_where_asked_for()
    {
        var s = From(new() { ["MATHV2_STORAGE"] = MathV2Storage.DevelopmentConnectionString, ["MATHV2_STORAGE__accountName"] = "other" });
        Assert.Equal((MathV2Storage.DevelopmentConnectionString, (StorageEndpoints?)null), (s.ConnectionString, s.Endpoints));
        Assert.Equal(MathV2Storage.DevelopmentConnectionString, From([], emulator: true).ConnectionString);
        Assert.Contains("MATHV2_STORAGE is not set", Assert.Throws<SettingsException>(() => From([])).Message);
        Assert.Contains("MATHV2_STORAGE__accountName", Assert.Throws<SettingsException>(() => From([])).Message);
    }

    [Fact]
    public void An_account_name_reaches_the_public_cloud_endpoints_with_an_identity_and_no_key()
    {
        var s = From(new() { ["MATHV2_STORAGE__accountName"] = "mathv2data42", ["MATHV2_STORAGE__clientId"] = "00000000-0000-0000-0000-000000000001" });
        Assert.Null(s.ConnectionString);
        Assert.NotNull(s.Credential);
        Assert.Equal(new Uri("https://mathv2data42.blob.core.windows.net"), s.Endpoints!.Blob);
        Assert.Equal(new Uri("https://mathv2data42.queue.core.windows.net"), s.Endpoints.Queue);
        Assert.Equal(new Uri("https://mathv2data42.table.core.windows.net"), s.Endpoints.Table);
        Assert.Equal("mathv2data42", s.Blobs.AccountName);
        Assert.Equal(new Uri("https://mathv2data42.queue.core.windows.net/gpu-jobs"), s.Queue(StorageNames.GpuJobsQueue).Uri);
        // Configuration spells the section with ':' (environment variables with "__").
        Assert.Equal(s.Endpoints, From(new() { ["MATHV2_STORAGE:accountName"] = "mathv2data42" }).Endpoints);
    }

    [Fact]
    public void Service_uris_win_over_the_account_name_as_in_a_sovereign_cloud()
    {
        var s = From(new()
        {
            ["MATHV2_STORAGE__accountName"] = "acct",
            ["MATHV2_STORAGE__blobServiceUri"] = "https://acct.blob.core.chinacloudapi.cn",
            ["MATHV2_STORAGE__queueServiceUri"] = "https://acct.queue.core.chinacloudapi.cn",
            ["MATHV2_STORAGE__tableServiceUri"] = "https://acct.table.core.chinacloudapi.cn",
        });
        Assert.Equal("acct.table.core.chinacloudapi.cn", s.Endpoints!.Table.Host);
        Assert.Equal("acct.blob.core.chinacloudapi.cn", s.Endpoints.Blob.Host);
    }

    [Theory]
    [InlineData("MATHV2_STORAGE__accountName", "Bad_Name", "MATHV2_STORAGE__accountName='Bad_Name' is not a storage account name")]
    [InlineData("MATHV2_STORAGE__blobServiceUri", "https://a.blob.core.windows.net", "MATHV2_STORAGE__queueServiceUri is not set, nor MATHV2_STORAGE__accountName")]
    [InlineData("MATHV2_STORAGE", "not a connection string", "MATHV2_STORAGE is not a storage connection string")]
    public void A_bad_storage_setting_stops_the_process_naming_it(string name, string value, string message) =>
        Assert.Contains(message, Assert.Throws<SettingsException>(() => From(new() { [name] = value })).Message);

    [Fact]
    public void A_service_uri_must_be_https_except_for_a_loopback_emulator()
    {
        Assert.Contains("MATHV2_STORAGE__tableServiceUri='http://acct.table.core.windows.net' is not an https URI", Assert.Throws<SettingsException>(() =>
            From(new() { ["MATHV2_STORAGE__accountName"] = "acct", ["MATHV2_STORAGE__tableServiceUri"] = "http://acct.table.core.windows.net" })).Message);
        Assert.Equal(10002, From(new() { ["MATHV2_STORAGE__accountName"] = "acct", ["MATHV2_STORAGE__tableServiceUri"] = "http://127.0.0.1:10002/acct" }).Endpoints!.Table.Port);
    }
}
