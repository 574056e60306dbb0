using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using MoqLite.Diagnostics;

namespace MoqLite.Samples.WebApp.Stats;

/// <summary>Listens to this server's <c>MoqLite</c> meter and keeps running totals for the Stats page.</summary>
public sealed class MoqStats : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _totals = new(StringComparer.Ordinal);

    /// <summary>Starts listening to the meter <paramref name="meterFactory"/> creates for MoqLite.</summary>
    public MoqStats(IMeterFactory meterFactory)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == MoqMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, meterFactory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => _totals.AddOrUpdate(instrument.Name, value, (_, total) => total + value));
        _listener.Start();
    }

    /// <summary>The totals now.</summary>
    public object Snapshot() => new
    {
        sessions = Total("moqlite.sessions.active"),
        subscriptions = Total("moqlite.subscriptions.active"),
        bytesSent = Total("moqlite.bytes.sent"),
        bytesReceived = Total("moqlite.bytes.received"),
        framesSent = Total("moqlite.frames.sent"),
        groupsDropped = Total("moqlite.groups.dropped"),
    };

    /// <inheritdoc/>
    public void Dispose() => _listener.Dispose();

    private long Total(string name) => _totals.GetValueOrDefault(name);
}
