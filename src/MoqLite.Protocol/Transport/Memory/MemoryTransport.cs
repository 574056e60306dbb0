using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Threading.Channels;

namespace MoqLite.Transport.Memory;

/// <summary>An in-process pair of connected transports, for tests and in-process peers.</summary>
public static class MemoryTransport
{
    /// <summary>Creates two connected ends speaking <paramref name="applicationProtocol"/>.</summary>
    public static (MoqTransportConnection Client, MoqTransportConnection Server) CreatePair(string applicationProtocol = "moq-lite-05")
    {
        var client = new MemoryConnection(applicationProtocol, isServer: false);
        var server = new MemoryConnection(applicationProtocol, isServer: true);
        client.Peer = server;
        server.Peer = client;
        return (client, server);
    }

    private sealed class MemoryConnection(string protocol, bool isServer) : MoqTransportConnection
    {
        private readonly Channel<MoqTransportStream> _incoming = Channel.CreateUnbounded<MoqTransportStream>();
        private readonly ConcurrentDictionary<long, Pipe> _pipes = new();
        private readonly TaskCompletionSource<MoqCloseInfo> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _nextBidi;
        private long _nextUni;

        public MemoryConnection Peer { get; set; } = null!;

        public override string ApplicationProtocol => protocol;

        public override string TransportName => "memory";

        public override Task<MoqCloseInfo> Closed => _closed.Task;

        public override ValueTask<MoqTransportStream> OpenBidirectionalStreamAsync(CancellationToken cancellationToken = default) =>
            ValueTask.FromResult<MoqTransportStream>(Open(unidirectional: false));

        public override ValueTask<MoqTransportStream> OpenUnidirectionalStreamAsync(CancellationToken cancellationToken = default) =>
            ValueTask.FromResult<MoqTransportStream>(Open(unidirectional: true));

        public override async ValueTask<MoqTransportStream> AcceptStreamAsync(CancellationToken cancellationToken = default)
        {
            try
            {
                return await _incoming.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (ChannelClosedException)
            {
                throw new MoqConnectionClosedException(_closed.Task.Result);
            }
        }

        public override ValueTask CloseAsync(ulong code, string reason)
        {
            Shutdown(new MoqCloseInfo(code, reason, ClosedByPeer: false));
            Peer.Shutdown(new MoqCloseInfo(code, reason, ClosedByPeer: true));
            return ValueTask.CompletedTask;
        }

        private MemoryTransportStream Open(bool unidirectional)
        {
            if (_closed.Task.IsCompleted)
            {
                throw new MoqConnectionClosedException(_closed.Task.Result);
            }
            // QUIC numbering: bit 0 = server-initiated, bit 1 = unidirectional.
            var index = unidirectional ? Interlocked.Increment(ref _nextUni) - 1 : Interlocked.Increment(ref _nextBidi) - 1;
            var id = (index << 2) | (isServer ? 1L : 0L) | (unidirectional ? 2L : 0L);
            var toPeer = Track(new Pipe(), id * 2);
            var fromPeer = unidirectional ? null : Peer.Track(new Pipe(), id * 2 + 1);
            var local = new MemoryTransportStream(id, unidirectional, isLocal: true, input: fromPeer?.Reader, output: toPeer.Writer);
            var remote = new MemoryTransportStream(id, unidirectional, isLocal: false, input: toPeer.Reader, output: fromPeer?.Writer);
            if (!Peer._incoming.Writer.TryWrite(remote))
            {
                throw new MoqConnectionClosedException(_closed.Task.IsCompleted ? _closed.Task.Result : new MoqCloseInfo(0, "closed", true));
            }
            return local;
        }

        private Pipe Track(Pipe pipe, long key)
        {
            _pipes[key] = pipe;
            return pipe;
        }

        private void Shutdown(MoqCloseInfo info)
        {
            if (!_closed.TrySetResult(info))
            {
                return;
            }
            _incoming.Writer.TryComplete();
            var error = new MoqConnectionClosedException(info);
            foreach (var pipe in _pipes.Values)
            {
                pipe.Writer.Complete(error);
                pipe.Reader.Complete(error);
            }
        }
    }

    private sealed class MemoryTransportStream(long id, bool unidirectional, bool isLocal, PipeReader? input, PipeWriter? output) : MoqTransportStream
    {
        public override long Id => id;

        public override bool IsUnidirectional => unidirectional;

        public override bool IsLocal => isLocal;

        public override PipeReader? Input => input;

        public override PipeWriter? Output => output;

        public override void Reset(ulong code) =>
            output?.Complete(new MoqStreamAbortedException(code, $"stream {id} reset by peer with code {code}"));

        public override void StopSending(ulong code) =>
            input?.Complete(new MoqStreamAbortedException(code, $"stream {id} stopped by peer with code {code}"));
    }
}
