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

    [Fact]
    public async Task The_ratio_lines_take_medians_of_the_flat_out_runs_and_slow_consumer_pairs_and_means_of_the_paced_tails()
    {
        // Columns as the orchestrator writes them; only 10 KB runs at N=100 (and MoqLite's at N=1000) may count.
        const string Header = "mode,subscribers,frame_bytes,rate_hz,slow_consumer,frames_per_s,mb_per_s,p50_ms,p99_ms,max_ms,server_cpu_s,server_us_per_frame,server_peak_mb,server_bytes_per_frame,server_gen0,server_gen2,subscriber_us_per_frame";
        string Run(string mode, int n, int size, int rate, bool slow, double fps, double p99, double serverUs, double subscriberUs) =>
            FormattableString.Invariant($"{mode},{n},{size},{rate},{slow},{fps},1,1,{p99},1,1,{serverUs},100,0,0,0,{subscriberUs}");
        var csv = Path.Combine(Path.GetTempPath(), $"moqlite-ratios-{Guid.NewGuid():N}.csv");
        File.WriteAllLines(csv,
        [
            Header,
            Run("raw", 100, 10240, 0, false, 100, 9, 7, 6), Run("raw", 100, 10240, 0, false, 140, 9, 8, 6), Run("raw", 100, 10240, 0, false, 120, 9, 6, 6),
            Run("signalr", 100, 10240, 0, false, 60, 9, 16, 9), Run("signalr", 100, 10240, 0, false, 70, 9, 17, 9), Run("signalr", 100, 10240, 0, false, 65, 9, 18, 9),
            Run("moqlite", 100, 10240, 0, false, 110, 9, 8, 7), Run("moqlite", 100, 10240, 0, false, 100, 9, 9, 8), Run("moqlite", 100, 10240, 0, false, 130, 9, 10, 9),
            Run("moqlite", 100, 1024, 0, false, 9999, 9, 1, 1), Run("raw", 10, 10240, 0, false, 9999, 9, 1, 1),
            // Slow-consumer pairs: +10%, -10%, +20%. The slow run after a raw one pairs with nothing.
            Run("moqlite", 100, 10240, 30, false, 3000, 4, 30, 30), Run("moqlite", 100, 10240, 30, true, 3000, 4.4, 30, 30),
            Run("moqlite", 100, 10240, 30, false, 3000, 6, 30, 30), Run("moqlite", 100, 10240, 30, true, 3000, 5.4, 30, 30),
            Run("moqlite", 100, 10240, 30, false, 3000, 5, 30, 30), Run("raw", 100, 10240, 30, true, 3000, 50, 30, 30), Run("moqlite", 100, 10240, 30, true, 3000, 50, 30, 30),
            Run("moqlite", 100, 10240, 30, false, 3000, 5, 30, 30), Run("moqlite", 100, 10240, 30, true, 3000, 6, 30, 30),
            Run("moqlite", 1000, 10240, 30, false, 30000, 20, 20, 20), Run("moqlite", 1000, 10240, 30, false, 30000, 30, 20, 20),
        ]);
        try
        {
            var (code, printed) = await SampleTools.RunAsync("MoqLite.Benchmarks", "ratios", csv);
            output.WriteLine(printed);
            Assert.Equal(0, code);
            Assert.Equal(
            [
                "moqlite/signalr throughput N=100: 1.69",
                "moqlite/raw-websocket throughput N=100: 0.92",
                "moqlite server us/frame N=100: 9.00 (raw 7.00, signalr 17.00)",
                "moqlite subscribers us/frame N=100: 8.00 (raw 6.00, signalr 9.00)",
                "moqlite p99 ms N=100: 5.00",
                "moqlite p99 ms N=1000: 25.00",
                "slow-consumer p99 shift: 10.0%",
            ], printed.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }
        finally
        {
            File.Delete(csv);
        }
    }
}
