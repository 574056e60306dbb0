using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using MoqLite.Coding;

namespace MoqLite.Transport.QMux;

/// <summary>
/// One QMux stream. Received bytes land in a pipe the application reads (consumption grants the peer more
/// credit); bytes the application writes wait in a pipe until the connection's send loop schedules them.
/// All state below is guarded by the connection's lock.
/// </summary>
internal sealed class QMuxStream : MoqTransportStream
{
    private readonly QMuxConnection _connection;
    private readonly Pipe? _receive;
    private readonly Pipe? _send;
    private readonly ReceiveReader? _input;
    private readonly SendWriter? _output;
    private long _priority;
    private bool _finReceived;

    public QMuxStream(QMuxConnection connection, long id, bool unidirectional, bool isLocal)
    {
        _connection = connection;
        Id = id;
        IsUnidirectional = unidirectional;
        IsLocal = isLocal;
        if (!(unidirectional && isLocal))
        {
            _receive = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
            _input = new ReceiveReader(this, _receive.Reader);
            ReceiveMax = connection.StreamReceiveWindow;
        }
        else
        {
            ReceiveDone = true;
        }
        if (!(unidirectional && !isLocal))
        {
            var buffered = connection.StreamSendBuffer;
            _send = new Pipe(new PipeOptions(pauseWriterThreshold: buffered, resumeWriterThreshold: buffered / 2, useSynchronizationContext: false));
            _output = new SendWriter(this, _send.Writer);
            SendMax = connection.InitialSendWindow(this);
        }
        else
        {
            SendDone = true;
        }
    }

    public override long Id { get; }

    public override bool IsUnidirectional { get; }

    public override bool IsLocal { get; }

    public override PipeReader? Input => _input;

    public override PipeWriter? Output => _output;

    public override long SendPriority
    {
        get => Volatile.Read(ref _priority);
        set => Volatile.Write(ref _priority, value);
    }

    public ulong ReceivedBytes { get; set; }

    public ulong ConsumedBytes { get; set; }

    public ulong ReceiveMax { get; set; }

    public bool ReceiveDone { get; private set; }

    public ulong SendMax { get; set; }

    public ulong SendOffset { get; private set; }

    public bool SendDone { get; private set; }

    public bool InReady { get; set; }

    public long ReadySequence { get; set; }

    public override void Reset(ulong code) => AbandonSend(code, $"stream {Id} was reset locally");

    public override void StopSending(ulong code)
    {
        ulong unread;
        lock (_connection.Gate)
        {
            if (ReceiveDone)
            {
                return;
            }
            ReceiveDone = true;
            unread = ReceivedBytes - ConsumedBytes;
            ConsumedBytes = ReceivedBytes;
        }
        _receive!.Writer.Complete(new MoqStreamAbortedException(code, $"stream {Id} was stopped locally"));
        if (!_finReceived)
        {
            _connection.QueueControl(QMuxFrameType.StopSending, (ulong)Id, code);
        }
        _connection.OnConsumed(null, unread);
        RetireIfDone();
    }

    /// <summary>Bytes from the peer (called only by the receive loop).</summary>
    public void Deliver(ReadOnlySpan<byte> data, bool fin)
    {
        bool discard;
        lock (_connection.Gate)
        {
            discard = ReceiveDone || _finReceived;
            _finReceived |= fin;
        }
        if (discard)
        {
            _connection.OnConsumed(null, (ulong)data.Length);
            return;
        }
        var writer = _receive!.Writer;
        if (!data.IsEmpty)
        {
            writer.Write(data);
        }
        if (fin)
        {
            writer.Complete();
            OnConsumed(0);
        }
        else
        {
            // No pause threshold: the flush completes at once and only publishes the bytes to the reader.
            var flush = writer.FlushAsync();
            System.Diagnostics.Debug.Assert(flush.IsCompleted, "an unpaused pipe flushes synchronously");
            if (flush.IsCompleted)
            {
                flush.GetAwaiter().GetResult();
            }
        }
    }

    public void PeerReset(ulong code)
    {
        lock (_connection.Gate)
        {
            if (ReceiveDone)
            {
                return;
            }
            ReceiveDone = true;
        }
        _receive?.Writer.Complete(new MoqStreamAbortedException(code, $"stream {Id} was reset by the peer with code {code}"));
        RetireIfDone();
    }

    // QUIC: answer STOP_SENDING with RESET_STREAM.
    public void PeerStopSending(ulong code) => AbandonSend(code, $"stream {Id} was stopped by the peer with code {code}");

    /// <summary>Ends the send direction with RESET_STREAM; the application's next flush fails with the reason.</summary>
    private void AbandonSend(ulong code, string reason)
    {
        lock (_connection.Gate)
        {
            if (SendDone)
            {
                return;
            }
            SendDone = true;
            _connection.RemoveReadyLocked(this);
            _send!.Reader.Complete(new MoqStreamAbortedException(code, reason));
        }
        _connection.QueueControl(QMuxFrameType.ResetStream, (ulong)Id, code, SendOffset);
        RetireIfDone();
    }

    public void Fail(Exception error)
    {
        _receive?.Writer.Complete(error);
        _send?.Reader.Complete(error);
    }

    /// <summary>Writes at most one STREAM frame into <paramref name="destination"/>; returns its size.</summary>
    public int WriteFrameLocked(Span<byte> destination, ref ulong connectionSent, ulong connectionMax)
    {
        var reader = _send!.Reader;
        if (SendDone || !reader.TryRead(out var result))
        {
            InReady = false;
            return 0;
        }
        var buffer = result.Buffer;
        var available = buffer.Length;
        var credit = (long)Math.Min(SendMax - SendOffset, connectionMax - connectionSent);
        var header = 1 + VarInt.Size((ulong)Id) + VarInt.Size(SendOffset) + (destination.Length <= 16383 ? 2 : 4);
        var room = destination.Length - header;
        if (room <= 0)
        {
            reader.AdvanceTo(buffer.Start);
            return 0;
        }
        var length = (int)Math.Min(Math.Min(available, credit), room);
        var fin = result.IsCompleted && length == available;
        if (length == 0 && !fin)
        {
            // Nothing to send (the next flush wakes us), or blocked on credit (MAX_STREAM_DATA / MAX_DATA wakes us).
            // Data held back for credit stays unexamined so TryRead yields it again once credit arrives.
            if (available == 0)
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
            }
            else
            {
                reader.AdvanceTo(buffer.Start);
            }
            InReady = false;
            return 0;
        }
        var written = QMuxConnection.WriteStreamHeader(destination, Id, SendOffset, length, fin);
        buffer.Slice(0, length).CopyTo(destination[written..]);
        reader.AdvanceTo(buffer.GetPosition(length));
        SendOffset += (ulong)length;
        connectionSent += (ulong)length;
        if (fin)
        {
            reader.Complete();
            SendDone = true;
            InReady = false;
            RetireIfDone();
        }
        else if (length == available)
        {
            InReady = false;
        }
        return written + length;
    }

    private void OnConsumed(ulong bytes)
    {
        if (bytes > 0)
        {
            _connection.OnConsumed(this, bytes);
        }
        lock (_connection.Gate)
        {
            if (_finReceived && !ReceiveDone && ConsumedBytes == ReceivedBytes)
            {
                ReceiveDone = true;
            }
        }
        RetireIfDone();
    }

    private void RetireIfDone()
    {
        bool done;
        lock (_connection.Gate)
        {
            done = ReceiveDone && SendDone;
        }
        if (done)
        {
            _connection.Retire(this);
        }
    }

    /// <summary>Counts what the application consumes, so credit can be granted as it goes.</summary>
    private sealed class ReceiveReader(QMuxStream stream, PipeReader inner) : PipeReader
    {
        private ReadOnlySequence<byte> _last;

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            var pending = inner.ReadAsync(cancellationToken);
            if (pending.IsCompletedSuccessfully)
            {
                var result = pending.Result;
                _last = result.Buffer;
                return new ValueTask<ReadResult>(result);
            }
            return Await(pending);
        }

        public override bool TryRead(out ReadResult result)
        {
            if (inner.TryRead(out result))
            {
                _last = result.Buffer;
                return true;
            }
            return false;
        }

        public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            var bytes = _last.Slice(_last.Start, consumed).Length;
            _last = default;
            inner.AdvanceTo(consumed, examined);
            stream.OnConsumed((ulong)bytes);
        }

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null)
        {
            inner.Complete(exception);
            stream.StopSending((ulong)MoqErrorCode.Cancel);
        }

        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        private async ValueTask<ReadResult> Await(ValueTask<ReadResult> pending)
        {
            var result = await pending.ConfigureAwait(false);
            _last = result.Buffer;
            return result;
        }
    }

    /// <summary>Tells the send loop about new bytes (or the end) whenever the application flushes or completes.</summary>
    private sealed class SendWriter(QMuxStream stream, PipeWriter inner) : PipeWriter
    {
        public override void Advance(int bytes) => inner.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            var flush = inner.FlushAsync(cancellationToken);
            stream._connection.Wake(stream);
            return flush;
        }

        public override void Complete(Exception? exception = null)
        {
            inner.Complete(exception);
            if (exception is null)
            {
                stream._connection.Wake(stream);
            }
            else
            {
                stream.Reset(MoqException.ResetCode(exception));
            }
        }
    }
}
