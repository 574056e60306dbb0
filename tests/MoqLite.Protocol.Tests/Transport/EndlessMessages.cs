using System.Net.WebSockets;

namespace MoqLite.Protocol.Tests.Transport;

/// <summary>
/// The wire of a peer that never lets up: after its opening message, the same WebSocket message again and again,
/// every read completing at once, as a socket does while the peer keeps it full. Writes are discarded.
/// </summary>
internal sealed class EndlessMessages : Stream
{
    private readonly byte[] _opening;
    private readonly byte[] _repeated;
    private readonly long _signalAfter;
    private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _position;
    private volatile bool _disposed;

    private EndlessMessages(byte[] opening, byte[] repeated, long signalAfter)
    {
        _opening = opening;
        _repeated = repeated;
        _signalAfter = signalAfter;
    }

    /// <summary>
    /// The two messages as a client WebSocket frames them (masked), so a server-side WebSocket reads them;
    /// <see cref="Reached"/> completes once <paramref name="signalAfter"/> repeated messages were read.
    /// </summary>
    public static async Task<EndlessMessages> CreateAsync(byte[] opening, byte[] repeated, long signalAfter) =>
        new(await FrameAsync(opening), await FrameAsync(repeated), signalAfter);

    /// <summary>Completes once the reader has taken the number of repeated messages asked for.</summary>
    public Task Reached => _reached.Task;

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var filled = 0;
        while (filled < buffer.Length)
        {
            byte[] source;
            long at;
            if (_position < _opening.Length)
            {
                (source, at) = (_opening, _position);
            }
            else
            {
                (source, at) = (_repeated, (_position - _opening.Length) % _repeated.Length);
            }
            var take = (int)Math.Min(buffer.Length - filled, source.Length - at);
            source.AsSpan((int)at, take).CopyTo(buffer[filled..]);
            filled += take;
            _position += take;
        }
        if ((_position - _opening.Length) / _repeated.Length >= _signalAfter)
        {
            _reached.TrySetResult();
        }
        return filled;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override void Write(byte[] buffer, int offset, int count)
    {
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        base.Dispose(disposing);
    }

    private static async Task<byte[]> FrameAsync(byte[] message)
    {
        using var wire = new MemoryStream();
        using var client = WebSocket.CreateFromStream(wire, new WebSocketCreationOptions { IsServer = false });
        await client.SendAsync(message, WebSocketMessageType.Binary, endOfMessage: true, default);
        return wire.ToArray();
    }
}
