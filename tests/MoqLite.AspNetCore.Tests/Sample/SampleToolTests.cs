using System.Net.Quic;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace MoqLite.AspNetCore.Tests.Sample;

/// <summary>The interop command and the native console client against the sample server, each in its own process.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[Collection(BrowsersAndProcesses.Name)]
public partial class SampleToolTests(ITestOutputHelper output)
{
    [SkippableTheory]
    [InlineData("websocket")]
    [InlineData("quic")]
    public async Task The_interop_command_passes_against_the_sample(string transport)
    {
        SkipUnlessAvailable(transport);
        await using var sample = await SampleProcess.StartAsync();
        var (code, printed) = await SampleTools.RunAsync("Interop", [.. Target(sample, transport)]);
        output.WriteLine(printed);
        Assert.True(code == 0, printed);
        foreach (var step in new[] { "connect publisher", "connect subscriber", "read an announcement", "subscribe", "receive a group", "publish back", "clean close" })
        {
            Assert.Contains("PASS " + step, printed, StringComparison.Ordinal);
        }
        Assert.Contains("interop: PASS", printed, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData("websocket")]
    [InlineData("quic")]
    public async Task The_native_client_subscribes_to_the_clock(string transport)
    {
        SkipUnlessAvailable(transport);
        await using var sample = await SampleProcess.StartAsync();
        var printed = await SampleTools.RunUntilAsync("group ", "Client", ["subscribe", .. Options(sample, transport)]);
        output.WriteLine(printed);
        Assert.Contains(transport == "quic" ? "over quic" : "over websocket", printed, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData("websocket")]
    [InlineData("quic")]
    public async Task What_the_native_client_publishes_a_browserless_subscriber_receives(string transport)
    {
        SkipUnlessAvailable(transport);
        await using var sample = await SampleProcess.StartAsync();
        await using var publisher = SampleTools.StartRunning("Client", ["publish", .. Options(sample, transport), "dotnet/counter", "count"]);
        await publisher.WaitForAsync("publishing dotnet/counter/count");
        var printed = await SampleTools.RunUntilAsync("count ", "Client", ["subscribe", .. Options(sample, "websocket"), "dotnet/counter", "count"]);
        output.WriteLine(printed);
    }

    private static IEnumerable<string> Target(SampleProcess sample, string transport) => transport == "quic"
        ? [$"moqt://127.0.0.1:{sample.Origin.Port + 1}/", "--pin", Pin(sample)]
        : [new Uri(sample.Origin, "moq").ToString().Replace("http://", "ws://", StringComparison.Ordinal)];

    private static IEnumerable<string> Options(SampleProcess sample, string transport)
    {
        var target = Target(sample, transport).ToList();
        return ["--url", target[0], .. target.Skip(1)];
    }

    /// <summary>The raw QUIC certificate pin the sample logs at start-up.</summary>
    private static string Pin(SampleProcess sample)
    {
        var match = PinLine().Match(sample.Output);
        Assert.True(match.Success, "the sample did not log a raw QUIC certificate:\n" + sample.Output);
        return match.Groups[1].Value;
    }

    private void SkipUnlessAvailable(string transport)
    {
        if (transport == "quic" && !QuicListener.IsSupported)
        {
            const string Why = "raw QUIC is not available on this machine (System.Net.Quic needs libmsquic.so.2)";
            output.WriteLine("Skipped: " + Why);
            Skip.If(true, Why);
        }
    }

    [GeneratedRegex("certificate sha256 ([0-9a-f]{64})")]
    private static partial Regex PinLine();
}
