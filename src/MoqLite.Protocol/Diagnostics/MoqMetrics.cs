using System.Diagnostics.Metrics;

namespace MoqLite.Diagnostics;

/// <summary>
/// The <c>MoqLite</c> meter: sessions, subscriptions and the groups, frames and bytes they carry. Per-frame
/// instruments carry no tags, so recording them allocates nothing.
/// </summary>
public sealed class MoqMetrics : IDisposable
{
    /// <summary>The meter name to listen to, for example with <c>dotnet-counters monitor --counters MoqLite</c>.</summary>
    public const string MeterName = "MoqLite";

    private readonly Meter _meter;
    private readonly UpDownCounter<long> _activeSessions;
    private readonly Counter<long> _sessions;
    private readonly Histogram<double> _sessionDuration;
    private readonly UpDownCounter<long> _activeSubscriptions;
    private readonly Counter<long> _groupsSent;
    private readonly Counter<long> _groupsDropped;
    private readonly Counter<long> _framesSent;
    private readonly Counter<long> _bytesSent;
    private readonly Counter<long> _framesReceived;
    private readonly Counter<long> _bytesReceived;
    private readonly Counter<long> _refused;

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/>, or on a standalone meter when null.</summary>
    public MoqMetrics(IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _activeSessions = _meter.CreateUpDownCounter<long>("moqlite.sessions.active", "{session}", "MOQ sessions currently open.");
        _sessions = _meter.CreateCounter<long>("moqlite.sessions", "{session}", "MOQ sessions started.");
        _sessionDuration = _meter.CreateHistogram<double>("moqlite.session.duration", "s", "How long MOQ sessions lasted.");
        _activeSubscriptions = _meter.CreateUpDownCounter<long>("moqlite.subscriptions.active", "{subscription}", "Subscriptions peers hold with this side.");
        _groupsSent = _meter.CreateCounter<long>("moqlite.groups.sent", "{group}", "Groups delivered to peers in full.");
        _groupsDropped = _meter.CreateCounter<long>("moqlite.groups.dropped", "{group}", "Groups reset because a peer fell behind or they went stale.");
        _framesSent = _meter.CreateCounter<long>("moqlite.frames.sent", "{frame}", "Frames written to peers.");
        _bytesSent = _meter.CreateCounter<long>("moqlite.bytes.sent", "By", "Frame payload bytes written to peers.");
        _framesReceived = _meter.CreateCounter<long>("moqlite.frames.received", "{frame}", "Frames received from peers.");
        _bytesReceived = _meter.CreateCounter<long>("moqlite.bytes.received", "By", "Frame payload bytes received from peers.");
        _refused = _meter.CreateCounter<long>("moqlite.requests.refused", "{request}", "Peer requests refused, by error code.");
    }

    internal void SessionStarted(string transport)
    {
        _sessions.Add(1, new KeyValuePair<string, object?>("moqlite.transport", transport));
        _activeSessions.Add(1, new KeyValuePair<string, object?>("moqlite.transport", transport));
    }

    internal void SessionEnded(string transport, TimeSpan duration)
    {
        _activeSessions.Add(-1, new KeyValuePair<string, object?>("moqlite.transport", transport));
        _sessionDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("moqlite.transport", transport));
    }

    internal void SubscriptionStarted() => _activeSubscriptions.Add(1);

    internal void SubscriptionEnded() => _activeSubscriptions.Add(-1);

    internal void GroupSent() => _groupsSent.Add(1);

    internal void GroupDropped() => _groupsDropped.Add(1);

    internal void FramesSent(long frames, long bytes)
    {
        _framesSent.Add(frames);
        _bytesSent.Add(bytes);
    }

    internal void FrameReceived(long bytes)
    {
        _framesReceived.Add(1);
        _bytesReceived.Add(bytes);
    }

    internal void Refused(MoqErrorCode code) => _refused.Add(1, new KeyValuePair<string, object?>("moqlite.error", code.ToString()));

    /// <inheritdoc/>
    public void Dispose() => _meter.Dispose();
}
