using System.Globalization;

namespace MoqLite.Benchmarks.FanOut;

/// <summary>
/// The ratio lines a fan-out run ends with, from its results: 10 KB runs at N=100 flat out (medians over the
/// repeats) for throughput and CPU per frame, MoqLite's 30/s runs (means over the repeats) for the tails, and the
/// median shift of the slow-consumer pairs. Also read back from a saved CSV by the <c>ratios</c> verb.
/// </summary>
internal static class RatioLines
{
    public static IEnumerable<string> From(IReadOnlyList<RunResult> results)
    {
        // Runs with a slow subscriber count only through SlowConsumerPairs.
        List<RunResult> Runs(string mode, int n, int rate) =>
            [.. results.Where(r => r.Config.Mode == mode && r.Config.Subscribers == n && r.Config.FrameSize == 10 * 1024 && r.Config.RateHz == rate && !r.Config.SlowConsumer)];
        double? FlatOut(string mode, Func<RunResult, double> figure) => Runs(mode, 100, 0) is { Count: > 0 } runs ? Median(runs.Select(figure)) : null;
        double? MeanP99(int n) => Runs("moqlite", n, 30) is { Count: > 0 } runs ? runs.Average(r => r.P99Ms) : null;
        static string Ratio(double? a, double? b) => a is not { } x || b is not { } y || y == 0 ? "n/a" : Format(x / y);
        static string Format(double? value) => value is { } x ? x.ToString("F2", CultureInfo.InvariantCulture) : "n/a";
        static double Server(RunResult r) => r.ServerMicrosPerFrame;
        static double Subscribers(RunResult r) => r.SubscriberMicrosPerFrame;
        static double Throughput(RunResult r) => r.FramesPerSecond;

        var moqFlat = FlatOut("moqlite", Throughput);
        var baseline = MeanP99(100);
        yield return $"moqlite/signalr throughput N=100: {Ratio(moqFlat, FlatOut("signalr", Throughput))}";
        yield return $"moqlite/raw-websocket throughput N=100: {Ratio(moqFlat, FlatOut("raw", Throughput))}";
        yield return $"moqlite server us/frame N=100: {Format(FlatOut("moqlite", Server))} (raw {Format(FlatOut("raw", Server))}, signalr {Format(FlatOut("signalr", Server))})";
        yield return $"moqlite subscribers us/frame N=100: {Format(FlatOut("moqlite", Subscribers))} (raw {Format(FlatOut("raw", Subscribers))}, signalr {Format(FlatOut("signalr", Subscribers))})";
        yield return $"moqlite p99 ms N=100: {Format(baseline)}";
        yield return $"moqlite p99 ms N=1000: {Format(MeanP99(1000))}";
        var pairs = SlowConsumerPairs(results);
        var shift = pairs.Count == 0 ? "n/a" : (Median(pairs.Select(Shift)) * 100).ToString("F1", CultureInfo.InvariantCulture);
        yield return $"slow-consumer p99 shift: {shift}%";
    }

    /// <summary>
    /// MoqLite's N=100, 30/s runs without a slow subscriber that the very next run repeats with one: the others' p99
    /// in each. Only back-to-back runs pair up, so both halves of a pair see the box alike.
    /// </summary>
    public static List<(double Without, double With)> SlowConsumerPairs(IReadOnlyList<RunResult> results)
    {
        static bool Paced(RunResult r) => r.Config is { Mode: "moqlite", Subscribers: 100, FrameSize: 10 * 1024, RateHz: 30 };
        var pairs = new List<(double, double)>();
        for (var i = 0; i + 1 < results.Count; i++)
        {
            var (without, with) = (results[i], results[i + 1]);
            if (Paced(without) && Paced(with) && !without.Config.SlowConsumer && with.Config.SlowConsumer && without.P99Ms > 0)
            {
                pairs.Add((without.P99Ms, with.P99Ms));
            }
        }
        return pairs;
    }

    /// <summary>How far a pair's slow subscriber moved the others' p99, as a fraction of the p99 without it.</summary>
    public static double Shift((double Without, double With) pair) => (pair.With - pair.Without) / pair.Without;

    /// <summary>Reads the runs back from a results CSV as <see cref="Orchestrator"/> writes it.</summary>
    public static List<RunResult> ReadCsv(string path)
    {
        var lines = File.ReadAllLines(path);
        var columns = lines[0].Split(',');
        int Column(string name) => Array.IndexOf(columns, name) is >= 0 and var index ? index : throw new FormatException($"{path} has no column '{name}'");
        var (mode, subscribers, frame, rate, slow) = (Column("mode"), Column("subscribers"), Column("frame_bytes"), Column("rate_hz"), Column("slow_consumer"));
        var (fps, mbps, p50, p99, max) = (Column("frames_per_s"), Column("mb_per_s"), Column("p50_ms"), Column("p99_ms"), Column("max_ms"));
        var (cpu, us, peak, bytes, gen0, gen2, subs) = (Column("server_cpu_s"), Column("server_us_per_frame"), Column("server_peak_mb"), Column("server_bytes_per_frame"), Column("server_gen0"), Column("server_gen2"), Column("subscriber_us_per_frame"));
        var results = new List<RunResult>();
        foreach (var line in lines.Skip(1).Where(l => l.Length > 0))
        {
            var cells = line.Split(',');
            double D(int index) => double.Parse(cells[index], CultureInfo.InvariantCulture);
            int I(int index) => int.Parse(cells[index], CultureInfo.InvariantCulture);
            var config = new RunConfig(cells[mode], I(subscribers), I(frame), I(rate), bool.Parse(cells[slow]));
            results.Add(new RunResult(config, D(fps), D(mbps), D(p50), D(p99), D(max), D(cpu), D(us), D(peak), D(bytes), I(gen0), I(gen2), D(subs)));
        }
        return results;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        var middle = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}
