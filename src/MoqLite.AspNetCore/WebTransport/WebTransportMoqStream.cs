using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace MoqLite.AspNetCore.WebTransport;

/// <summary>
/// One WebTransport stream on Kestrel's QUIC transport. Kestrel stops reading a stream whose output completed before
/// the peer's FIN was read, losing the peer's last bytes, so a local FIN on a bidirectional stream is held until the
/// peer's side is done (its FIN read, or the application gave up reading, in which case the rest is drained).
/// Kestrel returns stream credit to the peer only when a stream is disposed, which happens once both sides are done.
/// </summary>
internal sealed class WebTransportMoqStream : Transport.MoqTransportStream
{
    private readonly ConnectionContext _stream;
    private readonly Action<WebTransportMoqStream> _finished;
    private readonly object _gate = new();
    private readonly InputReader? _input;
    private readonly HeldFinWriter? _output;
    private bool _inputDone;
    private bool _outputDone;
    private bool _finPending;
    private bool _disposed;

    public WebTransportMoqStream(ConnectionContext stream, bool unidirectional, bool isLocal, Action<WebTransportMoqStream> finished)
    {
        _stream = stream;
        _finished = finished;
        IsUnidirectional = unidirectional;
        IsLocal = isLocal;
        Id = stream.Features.Get<IStreamIdFeature>()?.StreamId ?? -1;
        if (!(unidirectional && isLocal))
        {
            _input = new InputReader(this, stream.Transport.Input);
        }
        else
        {
            _inputDone = true;
        }
        if (!(unidirectional && !isLocal))
        {
            _output = new HeldFinWriter(this, stream.Transport.Output);
        }
        else
        {
            _outputDone = true;
        }
    }

    public override long Id { get; }

    public override bool IsUnidirectional { get; }

    public override bool IsLocal { get; }

    public override PipeReader? Input => _input;

    public override PipeWriter? Output => _output;

    public override void Reset(ulong code)
    {
        if (_output is null)
        {
            return;
        }
        try
        {
            _stream.Features.Get<IStreamAbortFeature>()?.AbortWrite((long)code, new ConnectionAbortedException("reset by the application"));
        }
        catch (InvalidOperationException)
        {
            // The send side already finished: nothing left to reset.
        }
        _output.CompleteInner();
        OutputFinished();
    }

    public override void StopSending(ulong code)
    {
        if (_input is null)
        {
            return;
        }
        bool drain;
        lock (_gate)
        {
            drain = _finPending;
        }
        if (drain)
        {
            // Our FIN waits for the peer's: read the rest ourselves rather than stop the peer mid-write.
            _ = DrainAsync();
            return;
        }
        try
        {
            _stream.Features.Get<IStreamAbortFeature>()?.AbortRead((long)code, new ConnectionAbortedException("stop sending"));
        }
        catch (InvalidOperationException)
        {
            // The receive side already finished (the peer's FIN arrived): nothing left to stop.
        }
        _input.CompleteInner();
        InputFinished();
    }

    /// <summary>Aborts whatever is still open, for the end of the session.</summary>
    public void Abort()
    {
        _stream.Abort(new ConnectionAbortedException("WebTransport session ended"));
        Dispose();
    }

    private void RequestFin()
    {
        bool now;
        lock (_gate)
        {
            now = _inputDone;
            _finPending = !now;
        }
        if (now)
        {
            _output!.CompleteInner();
            OutputFinished();
        }
    }

    private void InputFinished()
    {
        bool sendFin;
        lock (_gate)
        {
            if (_inputDone)
            {
                return;
            }
            _inputDone = true;
            sendFin = _finPending;
            _finPending = false;
        }
        if (sendFin)
        {
            _output!.CompleteInner();
            lock (_gate)
            {
                _outputDone = true;
            }
        }
        DisposeIfDone();
    }

    private void OutputFinished()
    {
        lock (_gate)
        {
            _outputDone = true;
        }
        DisposeIfDone();
    }

    private void DisposeIfDone()
    {
        lock (_gate)
        {
            if (!_inputDone || !_outputDone)
            {
                return;
            }
        }
        Dispose();
    }

    private void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
        }
        _finished(this);
        _ = _stream.DisposeAsync().AsTask();
    }

    private async Task DrainAsync()
    {
        var input = _stream.Transport.Input;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync().ConfigureAwait(false);
                input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is ConnectionAbortedException or ConnectionResetException or IOException or InvalidOperationException or OperationCanceledException)
        {
            // The peer reset instead: it is done either way.
        }
        _input!.CompleteInner();
        InputFinished();
    }

    /// <summary>
    /// Notices when the application has consumed everything up to the peer's FIN, or let go of the stream, so the
    /// held FIN can follow and the stream can be disposed. Not before: disposing returns the buffers being parsed.
    /// </summary>
    private sealed class InputReader(WebTransportMoqStream owner, PipeReader inner) : PipeReader
    {
        private int _completed;
        private ReadOnlySequence<byte> _last;
        private bool _lastWasFinal;

        public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            if (Volatile.Read(ref _completed) != 0)
            {
                return;
            }
            var finished = _lastWasFinal && _last.Slice(consumed).IsEmpty;
            inner.AdvanceTo(consumed, examined);
            if (finished)
            {
                CompleteInner();
                owner.InputFinished();
            }
        }

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            if (Volatile.Read(ref _completed) != 0)
            {
                return new ReadResult(ReadOnlySequence<byte>.Empty, isCanceled: false, isCompleted: true);
            }
            try
            {
                return Remember(await inner.ReadAsync(cancellationToken).ConfigureAwait(false));
            }
            catch (Exception ex) when (ex is ConnectionAbortedException or ConnectionResetException)
            {
                CompleteInner();
                owner.InputFinished();
                throw new MoqStreamAbortedException((ulong)MoqErrorCode.Cancel, "the peer aborted the stream: " + ex.Message);
            }
        }

        public override bool TryRead(out ReadResult result)
        {
            if (Volatile.Read(ref _completed) != 0)
            {
                result = new ReadResult(ReadOnlySequence<byte>.Empty, isCanceled: false, isCompleted: true);
                return true;
            }
            if (!inner.TryRead(out result))
            {
                return false;
            }
            Remember(result);
            return true;
        }

        public override void Complete(Exception? exception = null)
        {
            bool pending;
            lock (owner._gate)
            {
                pending = owner._finPending && !owner._inputDone;
            }
            if (pending)
            {
                _ = owner.DrainAsync();
                return;
            }
            CompleteInner();
            owner.InputFinished();
        }

        public void CompleteInner()
        {
            if (Interlocked.Exchange(ref _completed, 1) == 0)
            {
                inner.Complete();
            }
        }

        private ReadResult Remember(ReadResult result)
        {
            _last = result.Buffer;
            _lastWasFinal = result.IsCompleted;
            return result;
        }
    }

    /// <summary>Completing sends FIN — immediately on a unidirectional stream, after the peer's FIN on a bidirectional one.</summary>
    private sealed class HeldFinWriter(WebTransportMoqStream owner, PipeWriter inner) : PipeWriter
    {
        private int _completed;

        public override void Advance(int bytes) => inner.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            try
            {
                return await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ConnectionAbortedException or ConnectionResetException)
            {
                owner.OutputFinished();
                throw new MoqStreamAbortedException((ulong)MoqErrorCode.Cancel, "the peer stopped the stream: " + ex.Message);
            }
        }

        public override void Complete(Exception? exception = null)
        {
            if (exception is not null)
            {
                owner.Reset(MoqException.ResetCode(exception));
                return;
            }
            // Whatever was written still has to go out before the FIN, held or not.
            _ = FlushThenFinAsync();
        }

        public override async ValueTask CompleteAsync(Exception? exception = null)
        {
            if (exception is not null)
            {
                owner.Reset(MoqException.ResetCode(exception));
                return;
            }
            await FlushThenFinAsync().ConfigureAwait(false);
        }

        public void CompleteInner()
        {
            if (Interlocked.Exchange(ref _completed, 1) == 0)
            {
                inner.Complete();
            }
        }

        private async Task FlushThenFinAsync()
        {
            try
            {
                await inner.FlushAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ConnectionAbortedException or ConnectionResetException or InvalidOperationException)
            {
                owner.OutputFinished();
                return;
            }
            owner.RequestFin();
        }
    }
}
