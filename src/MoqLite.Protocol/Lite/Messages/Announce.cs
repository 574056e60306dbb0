using MoqLite.Coding;

namespace MoqLite.Lite.Messages;

/// <summary>ANNOUNCE_REQUEST: the first message on an Announce stream, asking for broadcasts under a prefix.</summary>
/// <param name="Prefix">The path prefix of interest.</param>
/// <param name="ExcludeHop">lite-04/05: the requester's origin id; broadcasts routed through it are not reported.</param>
public readonly record struct AnnounceRequest(string Prefix, ulong ExcludeHop) : ILiteMessage<AnnounceRequest>
{
    /// <inheritdoc/>
    public static string Name => "ANNOUNCE_REQUEST";

    /// <inheritdoc/>
    public void WriteBody(ref WireWriter writer, LiteVersion version)
    {
        writer.Text(Prefix);
        if (version.HasExcludeHop())
        {
            writer.VarInt(ExcludeHop);
        }
    }

    /// <inheritdoc/>
    public static AnnounceRequest ReadBody(ref WireReader reader, LiteVersion version) =>
        new(reader.Path(LiteCodec.MaxStringLength), version.HasExcludeHop() ? reader.VarInt() : 0);
}

/// <summary>ANNOUNCE_OK (lite-05): the responder's origin id and how many initial announcements follow.</summary>
public readonly record struct AnnounceOk(ulong Origin, ulong ActiveCount) : ILiteMessage<AnnounceOk>
{
    /// <inheritdoc/>
    public static string Name => "ANNOUNCE_OK";

    /// <inheritdoc/>
    public void WriteBody(ref WireWriter writer, LiteVersion version)
    {
        writer.VarInt(Origin);
        writer.VarInt(ActiveCount);
    }

    /// <inheritdoc/>
    public static AnnounceOk ReadBody(ref WireReader reader, LiteVersion version)
    {
        var origin = reader.VarInt();
        if (origin == 0)
        {
            throw new ProtocolViolationException("ANNOUNCE_OK: origin must be non-zero");
        }
        return new AnnounceOk(origin, reader.VarInt53());
    }
}

/// <summary>
/// ANNOUNCE_BROADCAST: a broadcast below the requested prefix became active or ended.
/// </summary>
/// <param name="Active">True when the broadcast is live (a repeat means it restarted).</param>
/// <param name="Suffix">The path relative to the requested prefix.</param>
/// <param name="Hops">The origin ids the announcement passed through (lite-03 carries only their count).</param>
public readonly record struct AnnounceBroadcast(bool Active, string Suffix, ulong[] Hops) : ILiteMessage<AnnounceBroadcast>
{
    /// <summary>The most hops an announcement may carry.</summary>
    public const int MaxHops = 32;

    /// <inheritdoc/>
    public static string Name => "ANNOUNCE_BROADCAST";

    /// <inheritdoc/>
    public void WriteBody(ref WireWriter writer, LiteVersion version)
    {
        writer.U8(Active ? (byte)1 : (byte)0);
        writer.Text(Suffix);
        var hops = Active ? Hops : [];
        writer.VarInt((ulong)hops.Length);
        if (version.HasHopIds())
        {
            foreach (var hop in hops)
            {
                writer.VarInt(hop);
            }
        }
    }

    /// <inheritdoc/>
    public static AnnounceBroadcast ReadBody(ref WireReader reader, LiteVersion version)
    {
        var status = reader.U8();
        var active = status switch
        {
            0 => false,
            1 => true,
            2 when version.HasAnnounceOk() => true,
            _ => throw new ProtocolViolationException($"ANNOUNCE_BROADCAST: invalid status {status}"),
        };
        var suffix = reader.Path(LiteCodec.MaxStringLength);
        var count = reader.VarInt();
        if (count > MaxHops)
        {
            throw new ProtocolViolationException($"ANNOUNCE_BROADCAST: {count} hops exceed {MaxHops}");
        }
        var hops = count == 0 ? [] : new ulong[count];
        if (version.HasHopIds())
        {
            for (var i = 0; i < hops.Length; i++)
            {
                hops[i] = reader.VarInt();
            }
        }
        return new AnnounceBroadcast(active, suffix, hops);
    }

    /// <inheritdoc/>
    public bool Equals(AnnounceBroadcast other) =>
        Active == other.Active && Suffix == other.Suffix && Hops.AsSpan().SequenceEqual(other.Hops);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Active, Suffix, Hops.Length);
}
