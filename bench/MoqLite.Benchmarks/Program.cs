// MoqLite benchmarks: one command, quick or full.
//   dotnet run -c Release --project bench/MoqLite.Benchmarks -- --quick     (under five minutes on 2 cores)
//   dotnet run -c Release --project bench/MoqLite.Benchmarks                (the full matrix)
//   dotnet run -c Release --project bench/MoqLite.Benchmarks -- ratios bench/results/fanout-<time>.csv
//                                                                           (a saved run's ratio lines again)
// Runs the codec benchmarks (BenchmarkDotNet, memory diagnoser), then the fan-out matrix with the server and the
// subscribers in separate processes, then the idle-session scale test; writes bench/results/ and ends with the ratios.
// The other verbs are the child processes the orchestrator starts.
using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using MoqLite.Benchmarks.Codec;
using MoqLite.Benchmarks.FanOut;

var verb = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "all";
var quick = args.Contains("--quick");
var results = Path.GetFullPath(Path.Combine(FindRepository(), "bench", "results"));
int Int(int index) => int.Parse(args[index], CultureInfo.InvariantCulture);

switch (verb)
{
    case "server":
        return await BenchServer.RunAsync(args[1], Int(2), Int(3), Int(4));
    case "subscribers":
        return await BenchSubscribers.RunAsync(args[1], new Uri(args[2]), Int(3), Int(4), double.Parse(args[5], CultureInfo.InvariantCulture), Int(6), args[7] == "-" ? null : args[7]);
    case "idle":
        return await BenchSubscribers.HoldIdleAsync(new Uri(args[1]), Int(2));
    case "codec":
        RunCodec(quick, results);
        return 0;
    case "fanout":
        return await new Orchestrator(quick, results).RunAsync();
    case "ratios":
        foreach (var line in RatioLines.From(RatioLines.ReadCsv(args[1])))
        {
            Console.WriteLine(line);
        }
        return 0;
    default:
        RunCodec(quick, results);
        return await new Orchestrator(quick, results).RunAsync();
}

static void RunCodec(bool quick, string results)
{
    // Quick: short iterations in process, so the codec part takes well under a minute.
    var job = quick
        ? Job.ShortRun.WithWarmupCount(1).WithIterationCount(3).WithIterationTime(Perfolizer.Horology.TimeInterval.FromMilliseconds(100)).WithToolchain(InProcessEmitToolchain.Instance)
        : Job.Default;
    var config = ManualConfig.CreateMinimumViable().AddJob(job).WithArtifactsPath(Path.Combine(results, "codec"));
    var summaries = BenchmarkRunner.Run([typeof(CodecBenchmarks), typeof(MessageCodecBenchmarks)], config);
    foreach (var report in summaries.SelectMany(s => s.Reports).Where(r => r.ResultStatistics is not null))
    {
        var method = report.BenchmarkCase.Descriptor.WorkloadMethod.Name;
        var allocated = report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase) ?? 0;
        if (report.BenchmarkCase.Parameters["FrameSize"] is int size)
        {
            var megabytesPerSecond = size / report.ResultStatistics!.Mean * 1e9 / 1e6;
            // Decoding a frame parses its header and slices the payload without copying, hence the large figure.
            Console.WriteLine($"codec {method} {size / 1024} KB: {megabytesPerSecond:N0} MB/s, {allocated} B allocated/op");
        }
        else
        {
            Console.WriteLine($"codec {method} {report.BenchmarkCase.Parameters["Message"]}: {report.ResultStatistics!.Mean:N1} ns, {allocated} B allocated/op");
        }
    }
}

static string FindRepository()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "MoqLite.AspNetCore.sln")))
        {
            return dir.FullName;
        }
    }
    return Directory.GetCurrentDirectory();
}
