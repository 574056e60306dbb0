using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using MoqLite.Diagnostics;

namespace MoqLite.AspNetCore.Tests;

public class OptionsAndMetricsTests(WebApplicationFactory<Program> factory) : IClassFixture<WebApplicationFactory<Program>>
{
    [Fact]
    public async Task A_bad_option_fails_start_up_naming_the_setting()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddMoqLite(options =>
        {
            options.Session.MaxGroupsInFlight = 0;
            options.WebSocketSubprotocols.Add("qmux-09.moq-lite-05");
            options.QMux.MaxRecordSize = 100_000;
        });
        using var host = builder.Build();
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("MoqLite:Session.MaxGroupsInFlight", error.Message, StringComparison.Ordinal);
        Assert.Contains("'qmux-09.moq-lite-05'", error.Message, StringComparison.Ordinal);
        Assert.Contains("MoqLite:QMux.MaxRecordSize", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sessions_subscriptions_frames_and_bytes_are_measured_on_the_MoqLite_meter()
    {
        var totals = new ConcurrentDictionary<string, long>();
        using var listener = new MeterListener();
        var meter = factory.Services.GetRequiredService<MoqMetrics>();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == MoqMetrics.MeterName && instrument.Meter.Scope == factory.Services.GetRequiredService<IMeterFactory>())
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => totals.AddOrUpdate(instrument.Name, value, (_, v) => v + value));
        listener.Start();

        await using (var client = await factory.ConnectAsync("/moq"))
        {
            var track = await client.Consume("clock").GetTrackAsync("seconds").AsTask().WaitAsync(TestServerClients.Timeout);
            using var subscription = track!.Subscribe();
            using var group = await subscription.NextGroupAsync().AsTask().WaitAsync(TestServerClients.Timeout);
            await group!.ReadTextFrameAsync();
            await EndpointTests.WaitUntilAsync(() => totals.GetValueOrDefault("moqlite.groups.sent") >= 1);
            Assert.Equal(1, totals.GetValueOrDefault("moqlite.sessions.active"));
            Assert.Equal(1, totals.GetValueOrDefault("moqlite.subscriptions.active"));
        }
        await EndpointTests.WaitUntilAsync(() => totals.GetValueOrDefault("moqlite.sessions.active") == 0);
        Assert.True(totals.GetValueOrDefault("moqlite.frames.sent") >= 1);
        Assert.True(totals.GetValueOrDefault("moqlite.bytes.sent") >= 19);
        Assert.Equal(1, totals.GetValueOrDefault("moqlite.sessions"));
        GC.KeepAlive(meter);
    }
}
