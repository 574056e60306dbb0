using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using MoqLite.Lite.Messages;

namespace MoqLite.Lite;

/// <summary>Parses one value off the front of a buffer; false when more bytes are needed.</summary>
internal delegate bool BufferParser<T>(ref ReadOnlySequence<byte> buffer, out T value);

/// <summary>Reads and writes whole MOQ Lite messages on a stream's pipes.</summary>
internal static class PipeMessages
{
    /// <summary>Reads one value; null when the stream ended cleanly before it began.</summary>
    public static async ValueTask<T?> ReadAsync<T>(PipeReader input, BufferParser<T> parse, string name, CancellationToken cancellationToken)
        where T : struct
    {
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (parse(ref buffer, out var value))
            {
                input.AdvanceTo(buffer.Start);
                return value;
            }
            if (result.IsCompleted)
            {
                input.AdvanceTo(buffer.End);
                return buffer.IsEmpty ? null : throw new ProtocolViolationException($"{name}: stream ended in the middle of a message");
            }
            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Reads one size-prefixed message; null at a clean end of stream.</summary>
    public static ValueTask<T?> ReadAsync<T>(PipeReader input, LiteVersion version, int maxSize, CancellationToken cancellationToken)
        where T : struct, ILiteMessage<T> =>
        ReadAsync(input, (ref ReadOnlySequence<byte> b, out T m) => LiteCodec.TryRead(ref b, version, maxSize, out m), T.Name, cancellationToken);

    /// <summary>Reads one size-prefixed message that must be there.</summary>
    public static async ValueTask<T> ReadRequiredAsync<T>(PipeReader input, LiteVersion version, int maxSize, CancellationToken cancellationToken)
        where T : struct, ILiteMessage<T> =>
        await ReadAsync<T>(input, version, maxSize, cancellationToken).ConfigureAwait(false)
            ?? throw new ProtocolViolationException($"{T.Name}: stream ended before the message");

    /// <summary>Reads a bare varint (a stream type); null at a clean end of stream.</summary>
    public static async ValueTask<ulong?> ReadVarIntAsync(PipeReader input, CancellationToken cancellationToken) =>
        await ReadAsync(input, (ref ReadOnlySequence<byte> b, out ulong v) => LiteCodec.TryReadVarInt(ref b, out v), "stream type", cancellationToken).ConfigureAwait(false);

    /// <summary>Writes a message and flushes; throws if the peer stopped reading.</summary>
    public static async ValueTask WriteAsync<T>(PipeWriter output, T message, LiteVersion version, CancellationToken cancellationToken)
        where T : struct, ILiteMessage<T>
    {
        LiteCodec.Write(output, message, version);
        await FlushAsync(output, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Flushes, turning "the reader is gone" into an exception.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public static async ValueTask FlushAsync(PipeWriter output, CancellationToken cancellationToken)
    {
        var result = await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (result.IsCompleted || result.IsCanceled)
        {
            throw new MoqException(MoqErrorCode.Cancel, "the peer stopped reading the stream");
        }
    }
}
