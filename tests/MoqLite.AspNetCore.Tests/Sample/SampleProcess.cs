using System.Diagnostics;
using System.Text;
using MoqLite.AspNetCore.Tests.Browser;

namespace MoqLite.AspNetCore.Tests.Sample;

/// <summary>
/// The sample site as users run it: its own process (the WebApp.dll built next to the tests, content root in
/// samples/WebApp so the bundled client in samples/wwwroot is served), on 127.0.0.1 and a free port.
/// </summary>
internal sealed class SampleProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private SampleProcess(Process process, Uri origin)
    {
        _process = process;
        Origin = origin;
    }

    public Uri Origin { get; }

    public Uri Page(string path) => new(Origin, path);

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static async Task<SampleProcess> StartAsync()
    {
        var port = WebTransportServer.FreePortForTcpAndUdp(alsoUdpNext: true);
        var origin = new Uri($"http://127.0.0.1:{port}/");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            // MoqLite's debug events (streams failed or refused, sessions ended) go with a failing test's output.
            Environment = { ["Logging__LogLevel__MoqLite"] = "Debug" },
        };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "WebApp.dll"), "--urls", origin.ToString().TrimEnd('/'), "--contentRoot", Repository.Path("samples/WebApp") })
        {
            info.ArgumentList.Add(argument);
        }
        var process = Process.Start(info)!;
        var sample = new SampleProcess(process, origin);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Collect(object? sender, DataReceivedEventArgs e)
        {
            lock (sample._output)
            {
                sample._output.AppendLine(e.Data);
            }
            if (e.Data?.Contains("Application started", StringComparison.Ordinal) == true)
            {
                started.TrySetResult();
            }
        }
        process.OutputDataReceived += Collect;
        process.ErrorDataReceived += Collect;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var first = await Task.WhenAny(started.Task, process.WaitForExitAsync()).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(first == started.Task, "the sample did not start:\n" + sample.Output);
        return sample;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
