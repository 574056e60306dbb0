using System.Buffers;
using MoqLite.Coding;
using MoqLite.Lite.Messages;

namespace MoqLite.Lite;

/// <summary>
/// Frames MOQ Lite messages: <c>varint size</c> then body, optionally preceded by a <c>varint type</c>.
/// Readers take a buffer that may end mid-message and return false until the whole message is there.
/// </summary>
public static class LiteCodec
{
    /// <summary>Longest string field accepted (paths, track names, URIs).</summary>
    public const int MaxStringLength = 4096;

    /// <summary>Writes <paramref name="message"/> with its size prefix.</summary>
    public static void Write<T>(IBufferWriter<byte> output, in T message, LiteVersion version)
        where T : ILiteMessage<T>
    {
        var counter = new WireWriter();
        message.WriteBody(ref counter, version);
        var bodyLength = counter.Length;
        var total = VarInt.Size((ulong)bodyLength) + bodyLength;
        var span = output.GetSpan(total);
        var prefix = VarInt.Write(span, (ulong)bodyLength);
        var writer = new WireWriter(span.Slice(prefix, bodyLength));
        message.WriteBody(ref writer, version);
        output.Advance(total);
    }

    /// <summary>Writes a typed message: <c>varint type</c>, then size and body.</summary>
    public static void WriteTyped<T>(IBufferWriter<byte> output, ulong type, in T message, LiteVersion version)
        where T : ILiteMessage<T>
    {
        VarInt.Write(output, type);
        Write(output, message, version);
    }

    /// <summary>
    /// Reads one size-prefixed message from the front of <paramref name="buffer"/>. Returns false
    /// (leaving the buffer as it was) when the message is not complete yet.
    /// </summary>
    /// <exception cref="ProtocolViolationException">The message is malformed or larger than <paramref name="maxSize"/>.</exception>
    public static bool TryRead<T>(ref ReadOnlySequence<byte> buffer, LiteVersion version, int maxSize, out T message)
        where T : ILiteMessage<T>
    {
        if (!TryReadBody(ref buffer, maxSize, T.Name, out var body))
        {
            message = default!;
            return false;
        }
        message = ReadBody<T>(body, version);
        return true;
    }

    /// <summary>Decodes a complete body, requiring every byte to be used.</summary>
    public static T ReadBody<T>(ReadOnlySequence<byte> body, LiteVersion version)
        where T : ILiteMessage<T>
    {
        var reader = new WireReader(body, T.Name);
        var message = T.ReadBody(ref reader, version);
        reader.End();
        return message;
    }

    /// <summary>Splits one size-prefixed body off the front of <paramref name="buffer"/>.</summary>
    public static bool TryReadBody(ref ReadOnlySequence<byte> buffer, int maxSize, string name, out ReadOnlySequence<byte> body)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!VarInt.TryRead(ref reader, out var size))
        {
            body = default;
            return false;
        }
        if (size > (ulong)maxSize)
        {
            throw new ProtocolViolationException($"{name}: message of {size} bytes exceeds the limit of {maxSize}");
        }
        if (reader.Remaining < (long)size)
        {
            body = default;
            return false;
        }
        body = reader.UnreadSequence.Slice(0, (long)size);
        buffer = buffer.Slice(body.End);
        return true;
    }

    /// <summary>Reads a bare varint (a stream type or a message type) from the front of <paramref name="buffer"/>.</summary>
    public static bool TryReadVarInt(ref ReadOnlySequence<byte> buffer, out ulong value)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!VarInt.TryRead(ref reader, out value))
        {
            return false;
        }
        buffer = buffer.Slice(reader.Position);
        return true;
    }
}
