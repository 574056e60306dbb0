using System.Buffers;
using MoqLite.Coding;

namespace MoqLite.Lite.Messages;

/// <summary>SUBSCRIBE: the first message on a Subscribe stream.</summary>
/// <param name="Id">Chosen by the subscriber, unique per session; group streams name it.</param>
/// <param name="Broadcast">The broadcast path.</param>
/// <param name="Track">The track name.</param>
/// <param name="Priority">Subscriber priority; higher is sent first.</param>
/// <param name="Ordered">Deliver older groups first instead of newest first.</param>
/// <param name="MaxLatencyMs">Groups older than this behind the newest may be dropped; 0 keeps only the latest.</param>
/// <param name="StartGroup">The first group wanted; null for the latest.</param>
/// <param name="EndGroup">The last group wanted (inclusive); null for open-ended.</param>
public readonly record struct Subscribe(
    ulong Id, string Broadcast, string Track, byte Priority, bool Ordered, ulong MaxLatencyMs, ulong? StartGroup, ulong? EndGroup)
    : ILiteMessage<Subscribe>
{
    /// <inheritdoc/>
    public static string Name => "SUBSCRIBE";

    /// <inheritdoc/>
    public void WriteBody(ref WireWriter writer, LiteVersion version)
    {
        writer.VarInt(Id);
        writer.Text(Broadcast);
        writer.Text(Track);
        writer.U8(Priority);
        writer.Bool(Ordered);
        writer.VarInt(MaxLatencyMs);
        writer.OptionalGroup(StartGroup);
        writer.OptionalGroup(EndGroup);
    }

    /// <inheritdoc/>
    public static Subscribe ReadBody(ref WireReader reader, LiteVersion version) => new(
        reader.VarInt(), reader.Path(LiteCodec.MaxStringLength), reader.Text(LiteCodec.MaxStringLength),
        reader.U8(), reader.Bool(), reader.VarInt53(), reader.OptionalGroup(), reader.OptionalGroup());
}

/// <summary>SUBSCRIBE_UPDATE: the subscriber changes its preferences on the same stream.</summary>
public readonly record struct SubscribeUpdate(byte Priority, bool Ordered, ulong MaxLatencyMs, ulong? StartGroup, ulong? EndGroup)
    : ILiteMessage<SubscribeUpdate>
{
    /// <inheritdoc/>
    public static string Name => "SUBSCRIBE_UPDATE";

    /// <inheritdoc/>
    public void WriteBody(ref WireWriter writer, LiteVersion version)
    {
        writer.U8(Priority);
        writer.Bool(Ordered);
        writer.VarInt(MaxLatencyMs);
        writer.OptionalGroup(StartGroup);
        writer.OptionalGroup(EndGroup);
    }

    /// <inheritdoc/>
    public static SubscribeUpdate ReadBody(ref WireReader reader, LiteVersion version) =>
        new(reader.U8(), reader.Bool(), reader.VarInt53(), reader.OptionalGroup(), reader.OptionalGroup());
}

/// <summary>What a publisher can say on a Subscribe stream.</summary>
public enum SubscribeResponseKind
{
    /// <summary>lite-05 SUBSCRIBE_START: the first group that will be delivered.</summary>
    Start,
    /// <summary>lite-05 SUBSCRIBE_END: no group at or after <see cref="SubscribeResponse.Group"/> will come.</summary>
    End,
    /// <summary>SUBSCRIBE_DROP: groups in [start, end] were dropped with an error code.</summary>
    Drop,
    /// <summary>lite-03/04 SUBSCRIBE_OK: acceptance with the publisher's view of the options.</summary>
    Ok,
}

/// <summary>
/// A publisher reply on a Subscribe stream. On the wire each is <c>varint type</c>, size, body; the type
/// numbers differ between lite-03/04 (0 OK, 1 DROP) and lite-05 (0 START, 1 END, 2 DROP).
/// </summary>
public readonly record struct SubscribeResponse(
    SubscribeResponseKind Kind, ulong Group, ulong End = 0, ulong Error = 0, SubscribeUpdate Ok = default)
{
    /// <summary>lite-05 SUBSCRIBE_START.</summary>
    public static SubscribeResponse Started(ulong group) => new(SubscribeResponseKind.Start, group);

    /// <summary>lite-05 SUBSCRIBE_END with an exclusive end group.</summary>
    public static SubscribeResponse Ended(ulong endExclusive) => new(SubscribeResponseKind.End, endExclusive);

    /// <summary>SUBSCRIBE_DROP for groups <paramref name="start"/> to <paramref name="end"/> inclusive.</summary>
    public static SubscribeResponse Dropped(ulong start, ulong end, MoqErrorCode error) =>
        new(SubscribeResponseKind.Drop, start, end, (ulong)error);

    /// <summary>Writes the response with its type prefix for <paramref name="version"/>.</summary>
    public void Write(IBufferWriter<byte> output, LiteVersion version)
    {
        var lite05 = version.HasTrackStream();
        switch (Kind)
        {
            case SubscribeResponseKind.Start when lite05:
                LiteCodec.WriteTyped(output, 0, new GroupNumber(Group), version);
                break;
            case SubscribeResponseKind.End when lite05:
                LiteCodec.WriteTyped(output, 1, new GroupNumber(Group), version);
                break;
            case SubscribeResponseKind.Drop:
                LiteCodec.WriteTyped(output, lite05 ? 2UL : 1UL, new DropBody(Group, End, Error), version);
                break;
            case SubscribeResponseKind.Ok when !lite05:
                LiteCodec.WriteTyped(output, 0, Ok, version);
                break;
            default:
                throw new InvalidOperationException($"{Kind} does not exist in {version.Alpn()}");
        }
    }

    /// <summary>Reads one response; false when more bytes are needed.</summary>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, LiteVersion version, int maxSize, out SubscribeResponse response)
    {
        var rest = buffer;
        response = default;
        if (!LiteCodec.TryReadVarInt(ref rest, out var type)
            || !LiteCodec.TryReadBody(ref rest, maxSize, "SUBSCRIBE response", out var body))
        {
            return false;
        }
        var lite05 = version.HasTrackStream();
        response = (type, lite05) switch
        {
            (0, true) => Started(LiteCodec.ReadBody<GroupNumber>(body, version).Value),
            (1, true) => Ended(LiteCodec.ReadBody<GroupNumber>(body, version).Value),
            (2, true) or (1, false) => LiteCodec.ReadBody<DropBody>(body, version).ToResponse(),
            (0, false) => new(SubscribeResponseKind.Ok, 0, Ok: LiteCodec.ReadBody<SubscribeUpdate>(body, version)),
            _ => throw new ProtocolViolationException($"SUBSCRIBE response: unknown type {type}"),
        };
        buffer = rest;
        return true;
    }

    private readonly record struct GroupNumber(ulong Value) : ILiteMessage<GroupNumber>
    {
        public static string Name => "SUBSCRIBE_START/END";

        public void WriteBody(ref WireWriter writer, LiteVersion version) => writer.VarInt(Value);

        public static GroupNumber ReadBody(ref WireReader reader, LiteVersion version) => new(reader.VarInt53());
    }

    private readonly record struct DropBody(ulong Start, ulong End, ulong Error) : ILiteMessage<DropBody>
    {
        public static string Name => "SUBSCRIBE_DROP";

        public SubscribeResponse ToResponse() => new(SubscribeResponseKind.Drop, Start, End, Error);

        public void WriteBody(ref WireWriter writer, LiteVersion version)
        {
            writer.VarInt(Start);
            writer.VarInt(End);
            writer.VarInt(Error);
        }

        public static DropBody ReadBody(ref WireReader reader, LiteVersion version) =>
            new(reader.VarInt53(), reader.VarInt53(), reader.VarInt53());
    }
}
