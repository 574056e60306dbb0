using MoqLite.Coding;

namespace MoqLite.Lite.Messages;

/// <summary>TRACK (lite-05): asks the publisher for a track's immutable properties.</summary>
public readonly record struct TrackRequest(string Broadcast, string Track) : ILiteMessage<TrackRequest>
{
    /// <inheritdoc/>
    public static string Name => "TRACK";

    /// <inheritdoc/>
    public void WriteBody(ref WireWriter writer, LiteVersion version)
    {
        writer.Text(Broadcast);
        writer.Text(Track);
    }

    /// <inheritdoc/>
    public static TrackRequest ReadBody(ref WireReader reader, LiteVersion version) =>
        new(reader.Path(LiteCodec.MaxStringLength), reader.Text(LiteCodec.MaxStringLength));
}

/// <summary>TRACK_INFO (lite-05): the publisher's priority, ordering, cache latency and timestamp scale.</summary>
public readonly record struct TrackInfoMessage(byte Priority, bool Ordered, ulong LatencyMaxMs, ulong Timescale) : ILiteMessage<TrackInfoMessage>
{
    /// <inheritdoc/>
    public static string Name => "TRACK_INFO";

    /// <inheritdoc/>
    public void WriteBody(ref WireWriter writer, LiteVersion version)
    {
        writer.U8(Priority);
        writer.Bool(Ordered);
        writer.VarInt(LatencyMaxMs);
        writer.VarInt(Timescale);
    }

    /// <inheritdoc/>
    public static TrackInfoMessage ReadBody(ref WireReader reader, LiteVersion version)
    {
        var message = new TrackInfoMessage(reader.U8(), reader.Bool(), reader.VarInt53(), reader.VarInt53());
        if (message.Timescale == 0)
        {
            throw new ProtocolViolationException("TRACK_INFO: timescale must be non-zero");
        }
        return message;
    }
}

/// <summary>FETCH (lite-05): one group of a track, answered with bare frames until FIN.</summary>
public readonly record struct FetchRequest(string Broadcast, string Track, byte Priority, ulong Group) : ILiteMessage<FetchRequest>
{
    /// <inheritdoc/>
    public static string Name => "FETCH";

    /// <inheritdoc/>
    public void WriteBody(ref WireWriter writer, LiteVersion version)
    {
        writer.Text(Broadcast);
        writer.Text(Track);
        writer.U8(Priority);
        writer.VarInt(Group);
    }

    /// <inheritdoc/>
    public static FetchRequest ReadBody(ref WireReader reader, LiteVersion version) =>
        new(reader.Path(LiteCodec.MaxStringLength), reader.Text(LiteCodec.MaxStringLength), reader.U8(), reader.VarInt53());
}

/// <summary>GOAWAY (lite-04+): the session is ending; reconnect to <paramref name="Uri"/> when it is not empty.</summary>
/// <param name="Uri">Where to reconnect; empty for nowhere in particular.</param>
public readonly record struct Goaway(string Uri) : ILiteMessage<Goaway>
{
    /// <inheritdoc/>
    public static string Name => "GOAWAY";

    /// <inheritdoc/>
    public void WriteBody(ref WireWriter writer, LiteVersion version) => writer.Text(Uri);

    /// <inheritdoc/>
    public static Goaway ReadBody(ref WireReader reader, LiteVersion version) => new(reader.Text(LiteCodec.MaxStringLength));
}

/// <summary>PROBE: the publisher's bitrate estimate in bits/s and (lite-04+) round-trip time in ms; 0 means unknown.</summary>
public readonly record struct Probe(ulong Bitrate, ulong RttMs) : ILiteMessage<Probe>
{
    /// <inheritdoc/>
    public static string Name => "PROBE";

    /// <inheritdoc/>
    public void WriteBody(ref WireWriter writer, LiteVersion version)
    {
        writer.VarInt(Bitrate);
        if (version.HasGoaway())
        {
            writer.VarInt(RttMs);
        }
    }

    /// <inheritdoc/>
    public static Probe ReadBody(ref WireReader reader, LiteVersion version) =>
        new(reader.VarInt(), version.HasGoaway() ? reader.VarInt() : 0);
}
