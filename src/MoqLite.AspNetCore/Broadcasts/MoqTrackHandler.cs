using MoqLite.Model;

namespace MoqLite.AspNetCore.Broadcasts;

/// <summary>
/// Produces one server-side track, in the manner of a SignalR hub: declared with
/// <c>AddBroadcast(path, b =&gt; b.AddTrack&lt;THandler&gt;(name))</c>, created from DI in a fresh scope when the
/// track's first subscriber arrives, and cancelled (then its scope disposed) when the last one leaves. However many
/// subscribers there are, one handler instance feeds them all.
/// </summary>
public abstract class MoqTrackHandler
{
    /// <summary>
    /// Writes the track's groups until <paramref name="cancellationToken"/> fires. Returning ends the track for
    /// its subscribers; throwing aborts it.
    /// </summary>
    public abstract Task RunAsync(MoqTrackContext context, CancellationToken cancellationToken);
}

/// <summary>The track a <see cref="MoqTrackHandler"/> is producing.</summary>
public sealed class MoqTrackContext
{
    internal MoqTrackContext(string broadcastPath, MoqTrack track, IServiceProvider services)
    {
        BroadcastPath = broadcastPath;
        Track = track;
        Services = services;
    }

    /// <summary>The broadcast's path in the origin.</summary>
    public string BroadcastPath { get; }

    /// <summary>The track being produced; its subscribers receive every group appended to it.</summary>
    public MoqTrack Track { get; }

    /// <summary>The handler's scoped services.</summary>
    public IServiceProvider Services { get; }

    /// <summary>Starts the next group of the track.</summary>
    public MoqGroup AppendGroup() => Track.AppendGroup();
}
