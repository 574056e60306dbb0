using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using MoqLite.Lite.Messages;

namespace MoqLite.Lite;

/// <summary>Parses one value off the front of a buffer; false when more bytes are needed. A struct, so reads allocate nothing.</summary>
internal interface IBufferParser<T>
{
    /// <summary>What is parsed, for errors.</summary>
    string Name { get; }

    bool TryParse(ref ReadOnlySequence<byte> buffer, out T value);
}

/// <summary>One size-prefixed MOQ Lite message.</summary>
internal readonly struct MessageParser<T>(LiteVersion version, int maxSize) : IBufferParser<T>
    where T : struct, ILiteMessage<T>
{
    public string Name => T.Name;

    public bool TryParse(ref ReadOnlySequence<byte> buffer, out T value) => LiteCodec.TryRead(ref buffer, version, maxSize, out value);
}

/// <summary>A bare varint: the type that opens every stream.</summary>
internal readonly struct StreamTypeParser : IBufferParser<ulong>
{
    public string Name => "stream type";

    public bool TryParse(ref ReadOnlySequence<byte> buffer, out ulong value) => LiteCodec.TryReadVarInt(ref buffer, out value);
}

/// <summary>A SUBSCRIBE stream's responses: the first, then updates and the end.</summary>
internal readonly struct SubscribeResponseParser(LiteVersion version, int maxSize) : IBufferParser<SubscribeResponse>
{
    public string Name => "SUBSCRIBE response";

    public bool TryParse(ref ReadOnlySequence<byte> buffer, out SubscribeResponse value) => SubscribeResponse.TryRead(ref buffer, version, maxSize, out value);
}

/// <summary>Reads and writes whole MOQ Lite messages on a stream's reader and writer.</summary>
internal static class PipeMessages
{
    /// <summary>
    /// Reads one value; null when the stream ended cleanly before it began. A value already buffered completes
    /// synchronously, and a wait uses a pooled state machine: group streams usually arrive whole.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<T?> ReadAsync<T, TParser>(PipeReader input, TParser parser, CancellationToken cancellationToken)
        where T : struct
        where TParser : struct, IBufferParser<T>
    {
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (TryTake(input, result, parser, out T? value))
            {
                return value;
            }
        }
    }

    /// <summary>Consumes one value, or the clean end; otherwise marks everything examined and returns false.</summary>
    private static bool TryTake<T, TParser>(PipeReader input, in ReadResult result, TParser parser, out T? value)
        where T : struct
        where TParser : struct, IBufferParser<T>
    {
        var buffer = result.Buffer;
        if (parser.TryParse(ref buffer, out var parsed))
        {
            input.AdvanceTo(buffer.Start);
            value = parsed;
            return true;
        }
        if (result.IsCompleted)
        {
            input.AdvanceTo(buffer.End);
            value = buffer.IsEmpty ? null : throw new ProtocolViolationException($"{parser.Name}: stream ended in the middle of a message");
            return true;
        }
        input.AdvanceTo(buffer.Start, buffer.End);
        value = null;
        return false;
    }

    /// <summary>Reads one size-prefixed message; null at a clean end of stream.</summary>
    public static ValueTask<T?> ReadAsync<T>(PipeReader input, LiteVersion version, int maxSize, CancellationToken cancellationToken)
        where T : struct, ILiteMessage<T> =>
        ReadAsync<T, MessageParser<T>>(input, new MessageParser<T>(version, maxSize), cancellationToken);

    /// <summary>Reads one size-prefixed message that must be there.</summary>
    public static ValueTask<T> ReadRequiredAsync<T>(PipeReader input, LiteVersion version, int maxSize, CancellationToken cancellationToken)
        where T : struct, ILiteMessage<T>
    {
        var pending = ReadAsync<T>(input, version, maxSize, cancellationToken);
        return pending.IsCompletedSuccessfully ? new ValueTask<T>(Required(pending.Result)) : AwaitRequiredAsync(pending);

        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        static async ValueTask<T> AwaitRequiredAsync(ValueTask<T?> pending) => Required(await pending.ConfigureAwait(false));

        static T Required(T? message) => message ?? throw new ProtocolViolationException($"{T.Name}: stream ended before the message");
    }

    /// <summary>Reads a bare varint (a stream type); null at a clean end of stream.</summary>
    public static ValueTask<ulong?> ReadVarIntAsync(PipeReader input, CancellationToken cancellationToken) =>
        ReadAsync<ulong, StreamTypeParser>(input, default, cancellationToken);

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
