using System.Collections.Concurrent;
using Microsoft.Playwright;

namespace MoqLite.AspNetCore.Tests.Browser;

/// <summary>Debian's Chromium, headless, driven by Playwright; each test gets fresh contexts and closes them all.</summary>
internal sealed class Chromium : IAsyncDisposable
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;
    private readonly ConcurrentDictionary<IPage, ConcurrentQueue<string>> _console = new();

    private Chromium(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        _browser = browser;
    }

    public static async Task<Chromium> LaunchAsync()
    {
        Assert.True(File.Exists(ExecutablePath), $"{ExecutablePath} is missing: install Debian's chromium package (.ci/run does)");
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                // A synthetic camera, allowed without a prompt, for the camera page.
                "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--autoplay-policy=no-user-gesture-required",
            ],
        });
        return new Chromium(playwright, browser);
    }

    /// <summary>A page in its own context with the reference client loaded (window.Moq).</summary>
    public async Task<IPage> OpenAsync(Uri url)
    {
        var page = await NewPageAsync(url);
        await page.WaitForFunctionAsync("() => window.moqReady === true");
        return page;
    }

    /// <summary>A page in its own context (its own storage and camera permission), navigated to <paramref name="url"/>.</summary>
    public async Task<IPage> NewPageAsync(Uri url)
    {
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions { Permissions = ["camera", "microphone"] });
        var page = await context.NewPageAsync();
        var console = _console.GetOrAdd(page, _ => new ConcurrentQueue<string>());
        page.Console += (_, message) => console.Enqueue($"{message.Type}: {message.Text}");
        page.PageError += (_, error) => console.Enqueue("uncaught: " + error);
        await page.GotoAsync(url.ToString());
        return page;
    }

    /// <summary>What <paramref name="page"/> logged to its console and threw uncaught, for a failing test to show.</summary>
    public string ConsoleOf(IPage page) => _console.TryGetValue(page, out var lines) ? string.Join('\n', lines) : "";

    public async ValueTask DisposeAsync()
    {
        await _browser.CloseAsync();
        _playwright.Dispose();
    }
}
