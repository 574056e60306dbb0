using System.Buffers;
using System.IO.Pipelines;

namespace MoqLite.Transport;

/// <summary>
/// One QUIC-style stream. Reading ends at the peer's FIN (<see cref="ReadResult.IsCompleted"/>); a peer reset
/// makes reads throw <see cref="MoqStreamAbortedException"/>. Completing <see cref="Output"/> sends FIN; a peer
/// STOP_SENDING makes flushes throw <see cref="MoqStreamAbortedException"/>.
/// </summary>
public abstract class MoqTransportStream
{
    /// <summary>The transport's stream id (QUIC numbering where the transport has one).</summary>
    public abstract long Id { get; }

    /// <summary>True for a unidirectional stream.</summary>
    public abstract bool IsUnidirectional { get; }

    /// <summary>True when this side opened the stream.</summary>
    public abstract bool IsLocal { get; }

    /// <summary>What the peer sends; null on a unidirectional stream this side opened.</summary>
    public abstract PipeReader? Input { get; }

    /// <summary>
    /// What this side sends; null on a unidirectional stream the peer opened. As with any <see cref="PipeWriter"/>, do
    /// not use it once completed: a transport may reuse a completed writer for another stream after its bytes left.
    /// </summary>
    public abstract PipeWriter? Output { get; }

    /// <summary>
    /// Send scheduling priority: when the connection is congested, streams with a higher value get bytes first.
    /// Transports without a scheduler ignore it.
    /// </summary>
    public virtual long SendPriority { get; set; }

    /// <summary>
    /// Completes once the send direction is over: everything written before <see cref="Output"/> was completed has
    /// left for the network, or the stream was reset. A publisher counts a group as in flight until then, so a slow
    /// peer's backlog stays bounded by groups rather than by whatever the transport would buffer. Transports whose
    /// completion already waits for the network report it at once.
    /// </summary>
    public virtual Task SendCompleted => Task.CompletedTask;

    /// <summary>
    /// <see cref="SendCompleted"/> for a single waiter, which a transport may serve without allocating: a relay waits
    /// on it once per group per subscriber.
    /// </summary>
    internal virtual ValueTask WhenSendCompletedAsync() => new(SendCompleted);

    /// <summary>
    /// Writes <paramref name="data"/> to <see cref="Output"/>. The caller keeps it unchanged until
    /// <see cref="SendCompleted"/>, so a transport that queues bytes may keep a reference rather than a copy: a relay
    /// sends each cached frame to many subscribers without copying it once per subscriber.
    /// </summary>
    public virtual void WriteRetained(ReadOnlyMemory<byte> data) => Output!.Write(data.Span);

    /// <summary>
    /// The session is done with this stream and will not touch it again: a transport may reuse the object for a later
    /// stream once both directions are over. A relay opens a stream per group per subscriber, so this is its hot path.
    /// </summary>
    internal virtual void Release()
    {
    }

    /// <summary>Abandons the send direction with RESET_STREAM(<paramref name="code"/>).</summary>
    public abstract void Reset(ulong code);

    /// <summary>Abandons the receive direction with STOP_SENDING(<paramref name="code"/>).</summary>
    public abstract void StopSending(ulong code);

    /// <summary>Closes both directions: FIN (or reset if writing fails) and STOP_SENDING(0), as moq-lite's "close" means.</summary>
    public async ValueTask CloseAsync()
    {
        if (Output is { } output)
        {
            try
            {
                await output.CompleteAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is MoqException or IOException or InvalidOperationException)
            {
                Reset((ulong)MoqErrorCode.Cancel);
            }
        }
        if (Input is not null)
        {
            StopSending((ulong)MoqErrorCode.Cancel);
        }
    }
}
