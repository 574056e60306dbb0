using MoqLite.Model;

namespace MoqLite.AspNetCore.Broadcasts;

/// <summary>Declares the tracks of one server-side broadcast.</summary>
public sealed class MoqBroadcastBuilder
{
    internal MoqBroadcastBuilder(string path) => Path = path;

    /// <summary>The broadcast's path in the origin.</summary>
    public string Path { get; }

    internal Dictionary<string, (Type Handler, TrackInfo Info)> Tracks { get; } = new(StringComparer.Ordinal);

    /// <summary>Adds track <paramref name="name"/>, produced by <typeparamref name="THandler"/> while anyone subscribes.</summary>
    public MoqBroadcastBuilder AddTrack<THandler>(string name, TrackInfo? info = null)
        where THandler : MoqTrackHandler
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!Tracks.TryAdd(name, (typeof(THandler), info ?? TrackInfo.Default)))
        {
            throw new InvalidOperationException($"Broadcast '{Path}' already has a track named '{name}'.");
        }
        return this;
    }
}
