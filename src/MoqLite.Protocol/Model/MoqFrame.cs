namespace MoqLite.Model;

/// <summary>
/// One frame of a group. <see cref="Payload"/> points into the group's pooled storage and is valid until the
/// <see cref="GroupReader"/> that returned it is disposed.
/// </summary>
/// <param name="Payload">The frame bytes.</param>
/// <param name="Timestamp">Presentation timestamp in the track's timescale units.</param>
public readonly record struct MoqFrame(ReadOnlyMemory<byte> Payload, long Timestamp);

/// <summary>A track's immutable publisher properties (TRACK_INFO).</summary>
/// <param name="Priority">Publisher priority, used to break ties between subscriptions.</param>
/// <param name="Ordered">Whether groups should be delivered oldest first.</param>
/// <param name="LatencyMax">How long a non-latest group stays cached after a newer one arrives.</param>
/// <param name="Timescale">Timestamp units per second; never zero.</param>
public readonly record struct TrackInfo(byte Priority, bool Ordered, TimeSpan LatencyMax, ulong Timescale)
{
    /// <summary>The reference model's defaults: priority 0, unordered, 5 s cache, milliseconds.</summary>
    public static TrackInfo Default { get; } = new(0, false, TimeSpan.FromSeconds(5), 1000);
}
