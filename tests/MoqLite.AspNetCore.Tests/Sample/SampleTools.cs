using System.Diagnostics;
using System.Text;

namespace MoqLite.AspNetCore.Tests.Sample;

/// <summary>Runs the repository's console programs (samples/Interop, samples/Client, bench/MoqLite.Benchmarks) from their build output.</summary>
internal static class SampleTools
{
    /// <summary>Runs <paramref name="tool"/> to completion; returns its exit code and everything it printed.</summary>
    public static async Task<(int Code, string Output)> RunAsync(string tool, params string[] arguments)
    {
        using var process = Start(tool, arguments);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>Runs <paramref name="tool"/> until it prints a line containing <paramref name="expected"/>, then stops it.</summary>
    public static async Task<string> RunUntilAsync(string expected, string tool, params string[] arguments)
    {
        await using var running = StartRunning(tool, arguments);
        return await running.WaitForAsync(expected);
    }

    /// <summary>Starts <paramref name="tool"/>; disposing the result stops it.</summary>
    public static RunningTool StartRunning(string tool, params string[] arguments) => new(tool, Start(tool, arguments));

    /// <summary>A sample program running in the background, its output collected.</summary>
    internal sealed class RunningTool : IAsyncDisposable
    {
        private readonly string _tool;
        private readonly Process _process;
        private readonly StringBuilder _output = new();
        private readonly List<(string Text, TaskCompletionSource Seen)> _waiters = [];

        public RunningTool(string tool, Process process)
        {
            _tool = tool;
            _process = process;
            process.OutputDataReceived += Collect;
            process.ErrorDataReceived += Collect;
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        /// <summary>Waits for a line containing <paramref name="expected"/> and returns the output so far.</summary>
        public async Task<string> WaitForAsync(string expected)
        {
            var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_output)
            {
                if (_output.ToString().Contains(expected, StringComparison.Ordinal))
                {
                    return _output.ToString();
                }
                _waiters.Add((expected, seen));
            }
            await Task.WhenAny(seen.Task, _process.WaitForExitAsync()).WaitAsync(TimeSpan.FromSeconds(30));
            lock (_output)
            {
                // Not "which finished first": a tool that prints the line and exits completes both, and the exit's
                // continuation can win the race. The exit is only reported once all output was delivered.
                Assert.True(seen.Task.IsCompleted, $"{_tool} never printed '{expected}':\n{_output}");
                return _output.ToString();
            }
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

        private void Collect(object? sender, DataReceivedEventArgs e)
        {
            lock (_output)
            {
                _output.AppendLine(e.Data);
                foreach (var (text, seen) in _waiters)
                {
                    if (e.Data?.Contains(text, StringComparison.Ordinal) == true)
                    {
                        seen.TrySetResult();
                    }
                }
            }
        }
    }

    private static Process Start(string tool, string[] arguments)
    {
        // Standard input stays open until the tool is stopped: the benchmark's server runs until its input ends.
        var info = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Locate(tool));
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        return Process.Start(info)!;
    }

    /// <summary>{samples or bench}/{tool}/bin/{the tests' configuration}/{framework}/{tool}.dll.</summary>
    private static string Locate(string tool)
    {
        // The tests run from tests/…/bin/{configuration}/{framework}/: the tool was built the same way.
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var folder = Directory.Exists(Path.Combine(Repository.Root, "samples", tool)) ? "samples" : "bench";
        return Repository.Path(Path.Combine(folder, tool, "bin", output.Parent!.Name, output.Name, tool + ".dll"));
    }
}
