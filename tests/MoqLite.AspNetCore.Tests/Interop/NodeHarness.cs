using System.Diagnostics;
using System.Text.Json;

namespace MoqLite.AspNetCore.Tests.Interop;

/// <summary>Runs scenarios of the reference client (@moq/net 0.3.4 under Node, see node/scenario.mjs).</summary>
internal static class NodeHarness
{
    private static readonly SemaphoreSlim InstallLock = new(1, 1);
    private static bool _installed;
    private static bool _bundled;

    public static string Directory { get; } = Repository.Path("tests/MoqLite.AspNetCore.Tests/Interop/node");

    /// <summary>Installs the pinned packages from package-lock.json once per test run.</summary>
    public static async Task EnsureInstalledAsync()
    {
        await InstallLock.WaitAsync();
        try
        {
            if (_installed)
            {
                return;
            }
            if (!System.IO.Directory.Exists(Path.Combine(Directory, "node_modules", "@moq", "net")))
            {
                var (code, output) = await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], TimeSpan.FromMinutes(3));
                Assert.True(code == 0, "npm ci failed:\n" + output);
            }
            _installed = true;
        }
        finally
        {
            InstallLock.Release();
        }
    }

    /// <summary>Bundles the reference client for the browser (dist/moq.js, exposing window.Moq) once per test run.</summary>
    public static async Task<string> EnsureBrowserBundleAsync()
    {
        await EnsureInstalledAsync();
        var bundle = Path.Combine(Directory, "dist", "moq.js");
        await InstallLock.WaitAsync();
        try
        {
            if (!_bundled)
            {
                var (code, output) = await RunAsync("node", ["bundle.mjs"], TimeSpan.FromMinutes(1));
                Assert.True(code == 0, "esbuild failed:\n" + output);
                _bundled = true;
            }
        }
        finally
        {
            InstallLock.Release();
        }
        return bundle;
    }

    /// <summary>Runs a scenario to completion and returns its RESULT object.</summary>
    public static async Task<JsonElement> RunScenarioAsync(params string[] arguments)
    {
        await EnsureInstalledAsync();
        var (code, output) = await RunAsync("node", ["scenario.mjs", .. arguments], TimeSpan.FromSeconds(30));
        var line = output.Split('\n').LastOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        Assert.True(code == 0 && line is not null, $"scenario {arguments[0]} exited {code}:\n{output}");
        return JsonDocument.Parse(line!["RESULT ".Length..]).RootElement.Clone();
    }

    /// <summary>Starts a long-running scenario and waits for it to print <paramref name="ready"/>; dispose to stop it.</summary>
    public static async Task<Process> StartScenarioAsync(string ready, params string[] arguments)
    {
        await EnsureInstalledAsync();
        var process = Start("node", ["scenario.mjs", .. arguments]);
        var readyLine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) =>
        {
            lock (output)
            {
                output.AppendLine(e.Data);
            }
            if (e.Data == ready)
            {
                readyLine.TrySetResult();
            }
        };
        process.BeginOutputReadLine();
        var exited = process.WaitForExitAsync();
        var first = await Task.WhenAny(readyLine.Task, exited).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(first == readyLine.Task, $"scenario {arguments[0]} ended before it was ready:\n{output}");
        return process;
    }

    public static void Stop(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }
        process.Dispose();
    }

    private static async Task<(int Code, string Output)> RunAsync(string file, string[] arguments, TimeSpan timeout)
    {
        using var process = Start(file, arguments);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    private static Process Start(string file, string[] arguments)
    {
        var info = new ProcessStartInfo(file)
        {
            WorkingDirectory = Directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        return Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
    }
}
