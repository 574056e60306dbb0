using System.Buffers;
using MoqLite.Protocol.Tests.Sessions;
using MoqLite.Transport;
using MoqLite.Transport.QMux;

namespace MoqLite.Protocol.Tests.Transport;

/// <summary>
/// The send half of a QMux stream, observed on the wire: bytes queued by reference, the end of a finished stream
/// in the same frame as its data, backpressure while the peer withholds credit, and when a stream counts as sent.
/// </summary>
public class QMuxSendTests
{
    [Theory]
    [InlineData(QMuxVersion.Draft01)]
    [InlineData(QMuxVersion.Draft02)]
    public async Task A_finished_stream_leaves_in_one_frame_with_its_end_and_retained_bytes_intact(QMuxVersion draft)
    {
        await using var link = await RawQMuxPeer.ConnectAsync(draft, RawQMuxPeer.Plenty);
        var stream = await link.Connection.OpenUnidirectionalStreamAsync().AsTask().WaitAsync(SessionPair.Timeout);
        var payload = new byte[5000];
        Random.Shared.NextBytes(payload);
        var output = stream.Output!;
        output.Write<byte>([0x00, 0x07, 0x2a]);
        stream.WriteRetained(payload);
        await output.CompleteAsync();

        await stream.SendCompleted.WaitAsync(SessionPair.Timeout);
        var frames = await RawQMuxPeer.ReadStreamFramesAsync(link.Peer, seen => seen.Any(f => f.Fin)).WaitAsync(SessionPair.Timeout);
        var frame = Assert.Single(frames, f => f.Id == stream.Id);
        Assert.True(frame.Fin);
        Assert.Equal([0x00, 0x07, 0x2a, .. payload], frame.Data);
    }

    [Fact]
    public async Task A_finished_streams_writer_serves_the_next_stream_which_sends_only_its_own_bytes_and_ignores_a_late_reset_of_the_first()
    {
        await using var link = await RawQMuxPeer.ConnectAsync(QMuxVersion.Draft01, RawQMuxPeer.Plenty);
        var first = await link.Connection.OpenUnidirectionalStreamAsync().AsTask().WaitAsync(SessionPair.Timeout);
        var firstWriter = first.Output!;
        var firstPayload = new byte[3000];
        Random.Shared.NextBytes(firstPayload);
        firstWriter.Write<byte>([0x00, 0x01, 0x02, 0x03]);
        first.WriteRetained(firstPayload);
        await firstWriter.CompleteAsync();
        await first.SendCompleted.WaitAsync(SessionPair.Timeout);

        var second = await link.Connection.OpenUnidirectionalStreamAsync().AsTask().WaitAsync(SessionPair.Timeout);
        Assert.Same(firstWriter, second.Output);
        // A delivery dropped late resets a stream whose bytes already left: it must not reach the writer's new stream.
        first.Reset((ulong)MoqErrorCode.Dropped);
        var secondPayload = new byte[1000];
        Random.Shared.NextBytes(secondPayload);
        var secondWriter = second.Output!;
        secondWriter.Write<byte>([0x00, 0x09]);
        second.WriteRetained(secondPayload);
        await secondWriter.CompleteAsync();

        await second.SendCompleted.WaitAsync(SessionPair.Timeout);
        var frames = await RawQMuxPeer.ReadStreamFramesAsync(link.Peer, seen => seen.Count(f => f.Fin) == 2).WaitAsync(SessionPair.Timeout);
        Assert.Equal([0x00, 0x01, 0x02, 0x03, .. firstPayload], Assert.Single(frames, f => f.Id == first.Id).Data);
        Assert.Equal([0x00, 0x09, .. secondPayload], Assert.Single(frames, f => f.Id == second.Id).Data);
    }

    [Fact]
    public async Task A_stream_is_reused_only_once_its_bytes_left_and_the_session_released_it()
    {
        var (link, first) = await OpenWithoutCreditAsync();
        await using var _ = link;
        var firstWriter = first.Output!;
        firstWriter.Write<byte>([1, 1]);
        await firstWriter.CompleteAsync();
        var firstSent = first.SendCompleted;
        var firstId = first.Id;
        // Released while its bytes still wait for credit: the session is done with it, the connection is not.
        first.Release();
        var second = await link.Connection.OpenUnidirectionalStreamAsync().AsTask().WaitAsync(SessionPair.Timeout);
        Assert.NotSame(first, second);

        await RawQMuxPeer.SendMaxDataAsync(link.Peer, 1000);
        await firstSent.WaitAsync(SessionPair.Timeout);
        var third = await link.Connection.OpenUnidirectionalStreamAsync().AsTask().WaitAsync(SessionPair.Timeout);
        Assert.Same(first, third);
        Assert.NotEqual(firstId, third.Id);
        Assert.False(third.SendCompleted.IsCompleted, "a reused stream starts with its send side open");

        var thirdWriter = third.Output!;
        thirdWriter.Write<byte>([3, 3, 3]);
        await thirdWriter.CompleteAsync();
        var secondWriter = second.Output!;
        secondWriter.Write<byte>([2]);
        await secondWriter.CompleteAsync();
        var frames = await RawQMuxPeer.ReadStreamFramesAsync(link.Peer, seen => seen.Count(f => f.Fin) == 3).WaitAsync(SessionPair.Timeout);
        byte[] Sent(long id) => [.. frames.Where(f => f.Id == id).SelectMany(f => f.Data)];
        Assert.Equal([1, 1], Sent(firstId));
        Assert.Equal([2], Sent(second.Id));
        Assert.Equal([3, 3, 3], Sent(third.Id));
    }

    [Fact]
    public async Task A_flush_waits_for_credit_and_a_stream_counts_as_sent_only_once_its_bytes_left()
    {
        var (link, stream) = await OpenWithoutCreditAsync();
        await using var _ = link;
        var flush = stream.Output!.WriteAsync(new byte[10_000]);
        Assert.False(flush.IsCompleted, "more than the send buffer is queued and the peer granted no credit");
        var sent = stream.SendCompleted;
        // The relay's wait, served without a task: one waiter at a time, completed with the task.
        var waited = stream.WhenSendCompletedAsync().AsTask();
        Assert.Throws<InvalidOperationException>(() => WaitAgain(stream));

        // The writer resumes once the queue is down to half the send buffer.
        await RawQMuxPeer.SendMaxDataAsync(link.Peer, 8000);
        await flush.AsTask().WaitAsync(SessionPair.Timeout);
        await stream.Output.CompleteAsync();
        Assert.False(sent.IsCompleted, "2,000 bytes still wait for credit");
        Assert.False(waited.IsCompleted);

        await RawQMuxPeer.SendMaxDataAsync(link.Peer, 10_000);
        await sent.WaitAsync(SessionPair.Timeout);
        await waited.WaitAsync(SessionPair.Timeout);
        Assert.True(stream.WhenSendCompletedAsync().AsTask().IsCompletedSuccessfully, "once sent, a new wait completes at once");
        var frames = await RawQMuxPeer.ReadStreamFramesAsync(link.Peer, seen => seen.Any(f => f.Fin)).WaitAsync(SessionPair.Timeout);
        Assert.Equal(10_000, frames.Where(f => f.Id == stream.Id).Sum(f => f.Data.Length));

        // Starts a second wait, which throws before returning anything to await.
        static void WaitAgain(MoqTransportStream stream) => stream.WhenSendCompletedAsync().AsTask();
    }

    [Fact]
    public async Task Resetting_a_stream_fails_its_pending_flush_and_ends_its_send_side()
    {
        var (link, stream) = await OpenWithoutCreditAsync();
        await using var _ = link;
        var flush = stream.Output!.WriteAsync(new byte[10_000]).AsTask();
        var sent = stream.SendCompleted;
        var waited = stream.WhenSendCompletedAsync().AsTask();

        stream.Reset((ulong)MoqErrorCode.Dropped);

        var error = await Assert.ThrowsAsync<MoqStreamAbortedException>(() => flush.WaitAsync(SessionPair.Timeout));
        Assert.Equal(MoqErrorCode.Dropped, error.Code);
        await sent.WaitAsync(SessionPair.Timeout);
        await waited.WaitAsync(SessionPair.Timeout);
    }

    [Fact]
    public async Task Cancelling_a_pending_flush_ends_it_without_touching_the_stream()
    {
        var (link, stream) = await OpenWithoutCreditAsync();
        await using var _ = link;
        using var cancel = new CancellationTokenSource();
        var output = stream.Output!;
        output.Write(new byte[10_000]);
        var flush = output.FlushAsync(cancel.Token).AsTask();
        Assert.False(flush.IsCompleted);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => flush.WaitAsync(SessionPair.Timeout));
        Assert.False(stream.SendCompleted.IsCompleted, "the queued bytes still wait for credit");
    }

    [Theory]
    [InlineData(65535, 1)]
    [InlineData(16382, 4)]
    public async Task Finished_streams_share_messages_up_to_the_peers_record_size_and_are_never_split_between_them(int peerRecordSize, int messages)
    {
        // No data credit until all four streams are queued, so one build of a message sees them all.
        await using var link = await RawQMuxPeer.ConnectAsync(QMuxVersion.Draft01, RawQMuxPeer.Plenty with { InitialMaxData = 0, MaxRecordSize = (ulong)peerRecordSize });
        var sent = new List<MoqTransportStream>();
        for (var i = 0; i < 4; i++)
        {
            var stream = await link.Connection.OpenUnidirectionalStreamAsync().AsTask().WaitAsync(SessionPair.Timeout);
            var output = stream.Output!;
            output.Write(new byte[12_000]);
            await output.CompleteAsync();
            sent.Add(stream);
        }

        await RawQMuxPeer.SendMaxDataAsync(link.Peer, 1 << 20);

        var frames = await RawQMuxPeer.ReadStreamFramesAsync(link.Peer, seen => seen.Count(f => f.Fin) == 4).WaitAsync(SessionPair.Timeout);
        Assert.Equal(sent.Select(s => s.Id).Order(), frames.Select(f => f.Id).Order());
        Assert.All(frames, f => Assert.True(f.Fin && f.Data.Length == 12_000, "each stream whole in one frame"));
        Assert.Equal(messages, frames.Select(f => f.Message).Distinct().Count());
    }

    /// <summary>A stream with a 4 KiB send buffer on a connection whose peer has granted no data credit yet.</summary>
    private static async Task<(RawQMuxPeer.Link Link, MoqTransportStream Stream)> OpenWithoutCreditAsync()
    {
        var link = await RawQMuxPeer.ConnectAsync(QMuxVersion.Draft01, RawQMuxPeer.Plenty with { InitialMaxData = 0 }, new QMuxOptions { IdleTimeout = TimeSpan.Zero, StreamSendBuffer = 4096 });
        var stream = await link.Connection.OpenUnidirectionalStreamAsync().AsTask().WaitAsync(SessionPair.Timeout);
        return (link, stream);
    }
}
