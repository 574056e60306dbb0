using System.Net.Quic;
using System.Text.Json;
using MoqLite.AspNetCore.Tests.Browser;
using MoqLite.AspNetCore.Tests.Sample;
using Xunit.Abstractions;

namespace MoqLite.AspNetCore.Tests.Benchmarks;

/// <summary>
/// The fan-out benchmark's own processes, briefly: each mode's server and subscriber processes deliver real frames
/// and report a result, so a broken harness fails here rather than in someone's benchmark run.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[Collection(BrowsersAndProcesses.Name)]
public class FanOutHarnessTests(ITestOutputHelper output)
{
    private const int FrameSize = 1024;

    [SkippableTheory]
    [InlineData("raw")]
    [InlineData("signalr")]
    [InlineData("moqlite")]
    [InlineData("moqlite-quic")]
    public async Task Each_mode_delivers_stamped_frames_to_its_subscribers(string mode)
    {
        if (mode == "moqlite-quic" && !QuicListener.IsSupported)
        {
            const string Why = "raw QUIC is not available on this machine (System.Net.Quic needs libmsquic.so.2)";
            output.WriteLine("Skipped: " + Why);
            Skip.If(true, Why);
        }
        var port = WebTransportServer.FreePortForTcpAndUdp();
        await using var server = SampleTools.StartRunning("MoqLite.Benchmarks", "server", mode, $"{port}", "30", $"{FrameSize}");
        var ready = (await server.WaitForAsync("READY")).Split('\n').First(l => l.StartsWith("READY", StringComparison.Ordinal)).Trim();
        var url = mode switch
        {
            "moqlite" => $"ws://127.0.0.1:{port}/moq",
            "moqlite-quic" => $"moqt://127.0.0.1:{port}/",
            _ => $"http://127.0.0.1:{port}/",
        };
        var pin = ready.Length > "READY ".Length ? ready["READY ".Length..] : "-";

        var printed = await SampleTools.RunUntilAsync("RESULT ", "MoqLite.Benchmarks", "subscribers", mode, url, "3", "30", "1", "-1", pin);
        output.WriteLine(printed);
        var line = printed.Split('\n').First(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        var result = JsonDocument.Parse(line["RESULT ".Length..]).RootElement;
        var frames = result.GetProperty("frames").GetInt64();
        Assert.True(frames > 0, "no frame arrived in the window");
        Assert.Equal(frames * FrameSize, result.GetProperty("bytes").GetInt64());
        Assert.True(result.GetProperty("p50").GetDouble() > 0, "no latency was measured");
    }
}
