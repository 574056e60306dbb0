using System.IO.Pipelines;
using System.Net.Quic;
using System.Runtime.Versioning;
using MoqLite.Coding;

namespace MoqLite.Transport.Quic;

/// <summary>
/// Writes a QUIC stream from one pooled, contiguous buffer: a flush is one <see cref="QuicStream.WriteAsync(ReadOnlyMemory{byte}, bool, CancellationToken)"/>,
/// and completing sends the last bytes with FIN in the same call. A group stream is short-lived: the generic
/// stream writer cost it a segment list, 4 KiB blocks and a cancellation source each, most of the relay's garbage.
/// Completing with an error resets the stream. One writer at a time, as for any <see cref="PipeWriter"/>.
/// </summary>
[SupportedOSPlatform("linux")]
[SupportedOSPlatform("windows")]
[SupportedOSPlatform("osx")]
internal sealed class QuicSendWriter(QuicStream stream) : PipeWriter
{
    private const int MinimumSize = 256;
    private byte[]? _buffer;
    private int _written;
    private bool _completed;

    public override void Advance(int bytes)
    {
        if (bytes < 0 || _buffer is null && bytes > 0 || _written + bytes > (_buffer?.Length ?? 0))
        {
            throw new InvalidOperationException("Advanced past the memory handed out.");
        }
        _written += bytes;
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => Ensure(sizeHint).AsMemory(_written);

    public override Span<byte> GetSpan(int sizeHint = 0) => Ensure(sizeHint).AsSpan(_written);

    public override void CancelPendingFlush()
    {
        // Each flush is one stream write that completes on its own; there is no pending flush to cancel.
    }

    public override async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (_written > 0)
        {
            await WriteAsync(completeWrites: false, cancellationToken).ConfigureAwait(false);
        }
        return default;
    }

    public override void Complete(Exception? exception = null)
    {
        if (exception is not null || _written == 0)
        {
            End(exception);
            return;
        }
        // Synchronous completion with bytes still buffered: send them with FIN without blocking the caller.
        _ = CompleteAsync().AsTask().ContinueWith(static task => _ = task.Exception, TaskScheduler.Default);
    }

    public override async ValueTask CompleteAsync(Exception? exception = null)
    {
        if (exception is not null || _written == 0)
        {
            End(exception);
            return;
        }
        if (_completed)
        {
            return;
        }
        _completed = true;
        try
        {
            await WriteAsync(completeWrites: true, default).ConfigureAwait(false);
        }
        finally
        {
            Return();
        }
    }

    private async ValueTask WriteAsync(bool completeWrites, CancellationToken cancellationToken)
    {
        try
        {
            await stream.WriteAsync(_buffer.AsMemory(0, _written), completeWrites, cancellationToken).ConfigureAwait(false);
        }
        catch (QuicException ex) when (QuicMoqStream.Map(ex) is { } mapped)
        {
            throw mapped;
        }
        _written = 0;
    }

    private void End(Exception? exception)
    {
        if (_completed)
        {
            return;
        }
        _completed = true;
        Return();
        if (exception is null)
        {
            stream.CompleteWrites();
        }
        else
        {
            stream.Abort(QuicAbortDirection.Write, (long)MoqException.ResetCode(exception));
        }
    }

    private byte[] Ensure(int sizeHint)
    {
        sizeHint = Math.Max(sizeHint, 1);
        if (_buffer is not null && _buffer.Length - _written >= sizeHint)
        {
            return _buffer;
        }
        var larger = BufferPool.Shared.Rent(Math.Max(_written + sizeHint, Math.Max(MinimumSize, 2 * (_buffer?.Length ?? 0))));
        if (_buffer is not null)
        {
            _buffer.AsSpan(0, _written).CopyTo(larger);
            BufferPool.Shared.Return(_buffer);
        }
        _buffer = larger;
        return larger;
    }

    private void Return()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            _written = 0;
            BufferPool.Shared.Return(buffer);
        }
    }
}
