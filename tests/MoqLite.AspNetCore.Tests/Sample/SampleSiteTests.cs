using System.Net.Quic;
using Microsoft.Playwright;
using MoqLite.AspNetCore.Tests.Browser;
using Xunit.Abstractions;

namespace MoqLite.AspNetCore.Tests.Sample;

/// <summary>
/// The sample site in Debian's Chromium: clock, chat, camera → watch and stats, over WebSocket everywhere and over
/// WebTransport where libmsquic exists. Each test saves a screenshot of its pages under TestResults/screenshots.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[Collection(BrowsersAndProcesses.Name)]
public class SampleSiteTests(ITestOutputHelper output)
{
    private static readonly float Wait = 20_000;

    [SkippableTheory]
    [InlineData("websocket")]
    [InlineData("webtransport")]
    public async Task The_clock_page_shows_ticks_arriving(string transport)
    {
        SkipUnlessAvailable(transport);
        await using var sample = await SampleProcess.StartAsync();
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync(sample.Page($"clock.html?transport={transport}"));

        await page.WaitForFunctionAsync("() => Number(document.getElementById('time').dataset.ticks) >= 2", null, new() { Timeout = Wait });
        Assert.Equal(transport, await page.GetAttributeAsync("#status", "data-transport"));
        Assert.Matches(@"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", await page.TextContentAsync("#time"));
        await ScreenshotAsync(page, $"clock-{transport}");
    }

    [SkippableTheory]
    [InlineData("websocket")]
    [InlineData("webtransport")]
    public async Task Two_chat_tabs_see_each_other_and_a_late_tab_sees_recent_messages(string transport)
    {
        SkipUnlessAvailable(transport);
        await using var sample = await SampleProcess.StartAsync();
        await using var chromium = await Chromium.LaunchAsync();
        var alice = await chromium.NewPageAsync(sample.Page($"chat.html?transport={transport}&name=alice"));
        var bob = await chromium.NewPageAsync(sample.Page($"chat.html?transport={transport}&name=bob"));
        await WaitForTextAsync(alice, "#people", "bob");
        await WaitForTextAsync(bob, "#people", "alice");

        await SayAsync(alice, "hello bob");
        await WaitForTextAsync(bob, "#messages", "hello bob");
        await SayAsync(bob, "hi alice");
        await WaitForTextAsync(alice, "#messages", "hi alice");

        var carol = await chromium.NewPageAsync(sample.Page($"chat.html?transport={transport}&name=carol"));
        await WaitForTextAsync(carol, "#messages", "hello bob");
        await WaitForTextAsync(carol, "#messages", "hi alice");
        await ScreenshotAsync(alice, $"chat-alice-{transport}");
        await ScreenshotAsync(carol, $"chat-carol-{transport}");
    }

    [SkippableTheory]
    [InlineData("websocket")]
    [InlineData("webtransport")]
    public async Task The_camera_page_publishes_video_and_audio_and_a_watch_page_in_another_context_plays_them(string transport)
    {
        SkipUnlessAvailable(transport);
        await using var sample = await SampleProcess.StartAsync();
        await using var chromium = await Chromium.LaunchAsync();
        var camera = await chromium.NewPageAsync(sample.Page($"camera.html?transport={transport}&name=cam1"));
        // The viewer arrives about three seconds in (90 frames at the fake camera's 30/s), past the media's 2 s latency
        // window: the catalog, written once at the start, must still be there for it.
        await ExplainTimeoutAsync(() => camera.WaitForFunctionAsync("() => Number(document.getElementById('sent').textContent) >= 90", null, new() { Timeout = Wait }), sample, chromium, camera);

        var watch = await chromium.NewPageAsync(sample.Page($"watch.html?transport={transport}&watch=cam1"));
        await ExplainTimeoutAsync(() => watch.WaitForFunctionAsync("() => Number(document.getElementById('screen').dataset.frames) >= 10", null, new() { Timeout = Wait }), sample, chromium, camera, watch);
        output.WriteLine("video groups the relay dropped on the way: " + await watch.EvaluateAsync<string>("document.getElementById('screen').dataset.dropped ?? '0'"));
        // Non-blank: Chromium's fake camera draws a moving pattern, so the pixels vary.
        var spread = await watch.EvaluateAsync<double>("""
            () => {
              const canvas = document.getElementById("screen");
              const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
              let min = 255, max = 0;
              for (let i = 0; i < data.length; i += 4 * 97) { const v = data[i] + data[i + 1] + data[i + 2]; min = Math.min(min, v); max = Math.max(max, v); }
              return max - min;
            }
            """);
        Assert.True(spread > 50, $"the rendered frame looks blank (brightness spread {spread})");
        // The fake microphone's tone travels too: encoded on one page, decoded and scheduled on the other.
        await camera.WaitForFunctionAsync("() => Number(document.getElementById('audio').textContent) > 0", null, new() { Timeout = Wait });
        await watch.WaitForFunctionAsync("() => Number(document.getElementById('audio').textContent) > 0", null, new() { Timeout = Wait });
        await ScreenshotAsync(camera, $"camera-{transport}");
        await ScreenshotAsync(watch, $"watch-{transport}");
    }

    [Fact]
    public async Task The_stats_page_charts_the_servers_metrics()
    {
        await using var sample = await SampleProcess.StartAsync();
        await using var chromium = await Chromium.LaunchAsync();
        var clock = await chromium.NewPageAsync(sample.Page("clock.html?transport=websocket"));
        await clock.WaitForFunctionAsync("() => Number(document.getElementById('time').dataset.ticks) >= 1", null, new() { Timeout = Wait });

        var stats = await chromium.NewPageAsync(sample.Page("stats.html"));
        await stats.WaitForFunctionAsync("() => Number(document.getElementById('chart').dataset.samples) >= 2", null, new() { Timeout = Wait });
        Assert.Equal("1", await stats.TextContentAsync("[data-stat=sessions]"));
        Assert.NotEqual("0", await stats.TextContentAsync("[data-stat=bytesSent]"));
        await ScreenshotAsync(stats, "stats");
    }

    private static async Task SayAsync(IPage page, string text)
    {
        await page.FillAsync("#text", text);
        await page.ClickAsync("#composer button");
    }

    private static async Task WaitForTextAsync(IPage page, string selector, string text) =>
        await page.WaitForFunctionAsync(
            "([selector, text]) => document.querySelector(selector)?.textContent.includes(text)",
            new[] { selector, text },
            new() { Timeout = Wait });

    /// <summary>Runs a wait; if it times out, writes what each page shows and logged, and the server's log, before failing.</summary>
    private async Task ExplainTimeoutAsync(Func<Task> wait, SampleProcess sample, Chromium chromium, params IPage[] pages)
    {
        try
        {
            await wait();
        }
        catch (TimeoutException)
        {
            foreach (var page in pages)
            {
                output.WriteLine($"--- {page.Url}\n{await page.InnerTextAsync("body")}\n{chromium.ConsoleOf(page)}");
            }
            output.WriteLine("--- server\n" + sample.Output);
            throw;
        }
    }

    private async Task ScreenshotAsync(IPage page, string name)
    {
        var path = Path.Combine(Screenshots, name + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        output.WriteLine("screenshot: " + path);
    }

    private void SkipUnlessAvailable(string transport)
    {
        if (transport == "webtransport" && !QuicListener.IsSupported)
        {
            const string Why = "HTTP/3 is not available on this machine (System.Net.Quic needs libmsquic.so.2), so the WebTransport variant cannot run";
            output.WriteLine("Skipped: " + Why);
            Skip.If(true, Why);
        }
    }

    private static string Screenshots { get; } = Directory.CreateDirectory(Path.Combine(Repository.Root, "TestResults", "screenshots")).FullName;
}
