using System.Buffers;
using MoqLite.Coding;

namespace MoqLite.Lite.Messages;

/// <summary>GROUP: the header of a Group stream, naming the subscription and the group sequence.</summary>
public readonly record struct GroupHeader(ulong SubscribeId, ulong Sequence) : ILiteMessage<GroupHeader>
{
    /// <inheritdoc/>
    public static string Name => "GROUP";

    /// <inheritdoc/>
    public void WriteBody(ref WireWriter writer, LiteVersion version)
    {
        writer.VarInt(SubscribeId);
        writer.VarInt(Sequence);
    }

    /// <inheritdoc/>
    public static GroupHeader ReadBody(ref WireReader reader, LiteVersion version) => new(reader.VarInt(), reader.VarInt53());
}

/// <summary>
/// FRAME records on Group and Fetch streams. lite-05: <c>zigzag timestamp delta, length, payload</c>;
/// lite-03/04: <c>length, payload</c>. Frames are not size-wrapped as a whole.
/// </summary>
public static class FrameCodec
{
    /// <summary>Writes a frame header; the payload follows it.</summary>
    public static void WriteHeader(IBufferWriter<byte> output, LiteVersion version, long timestampDelta, int payloadLength)
    {
        var span = output.GetSpan(16);
        var written = 0;
        if (version.HasTrackStream())
        {
            written = VarInt.Write(span, VarInt.ZigZagEncode(timestampDelta));
        }
        written += VarInt.Write(span[written..], (ulong)payloadLength);
        output.Advance(written);
    }

    /// <summary>Writes a whole frame.</summary>
    public static void Write(IBufferWriter<byte> output, LiteVersion version, long timestampDelta, ReadOnlySpan<byte> payload)
    {
        WriteHeader(output, version, timestampDelta, payload.Length);
        output.Write(payload);
    }

    /// <summary>
    /// Reads a frame header from the front of <paramref name="buffer"/>. False when it is incomplete.
    /// The payload length is checked against <paramref name="maxFrameSize"/> before any of it is buffered.
    /// </summary>
    public static bool TryReadHeader(ref ReadOnlySequence<byte> buffer, LiteVersion version, int maxFrameSize, out long timestampDelta, out int payloadLength)
    {
        var reader = new SequenceReader<byte>(buffer);
        timestampDelta = 0;
        payloadLength = 0;
        ulong zigzag = 0;
        if ((version.HasTrackStream() && !VarInt.TryRead(ref reader, out zigzag)) || !VarInt.TryRead(ref reader, out var length))
        {
            return false;
        }
        if (length > (ulong)maxFrameSize)
        {
            throw new ProtocolViolationException($"FRAME: {length} bytes exceed the limit of {maxFrameSize}");
        }
        timestampDelta = VarInt.ZigZagDecode(zigzag);
        payloadLength = (int)length;
        buffer = buffer.Slice(reader.Position);
        return true;
    }
}
