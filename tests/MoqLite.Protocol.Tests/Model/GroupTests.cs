using System.Runtime.InteropServices;
using MoqLite.Coding;
using MoqLite.Model;
using MoqLite.Protocol.Tests.Sessions;

namespace MoqLite.Protocol.Tests.Model;

public class GroupTests
{
    [Fact]
    public async Task Adopted_frames_are_read_where_they_arrived_and_hold_their_buffer_until_the_last_reader_lets_go()
    {
        var received = new SharedBuffer(1024);
        Random.Shared.NextBytes(received.Array);
        var group = new MoqGroup(0, track: null);
        group.AdoptFrame(received, 10, 100, timestamp: 1);
        group.AdoptFrame(received, 120, 50, timestamp: 2);
        var reader = group.OpenReader();
        group.Complete();

        var first = (await reader.ReadFrameAsync())!.Value;
        var second = (await reader.ReadFrameAsync())!.Value;
        Assert.True(MemoryMarshal.TryGetArray(first.Payload, out var place));
        Assert.Same(received.Array, place.Array);
        Assert.Equal((10, 100, 1L), (place.Offset, place.Count, first.Timestamp));
        Assert.True(second.Payload.Span.SequenceEqual(received.Array.AsSpan(120, 50)));
        Assert.Null(await reader.ReadFrameAsync());
        Assert.True(received.IsShared);
        reader.Dispose();
        // Only the receiver's own reference is left: it may reuse the buffer.
        Assert.False(received.IsShared);
        received.Release();
    }

    [Fact]
    public async Task WaitForReadersAsync_completes_when_every_subscription_is_done_with_the_group()
    {
        var track = new MoqTrack("t", TrackInfo.Default);
        using var first = track.Subscribe();
        using var second = track.Subscribe();
        var group = track.AppendGroup();
        group.WriteFrame("x"u8, 0);
        group.Complete();

        var drained = group.WaitForReadersAsync();
        var one = await first.NextGroupAsync();
        var two = await second.NextGroupAsync();
        one!.Dispose();
        Assert.False(drained.IsCompleted);
        two!.Dispose();
        await drained.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_waiting_subscriber_is_woken_when_a_group_gets_its_first_frame_or_ends_not_when_it_is_created(bool withFrame)
    {
        var track = new MoqTrack("t", TrackInfo.Default);
        using var subscription = track.Subscribe();
        var next = subscription.NextGroupAsync();
        var group = track.AppendGroup();
        Assert.False(next.IsCompleted);

        if (withFrame)
        {
            group.WriteFrame("x"u8, 0);
        }
        else
        {
            group.Complete();
        }
        using var reader = (await next.AsTask().WaitAsync(TimeSpan.FromSeconds(10)))!;
        Assert.Equal(group.Sequence, reader.Sequence);
        var frame = await reader.ReadFrameAsync();
        Assert.Equal(withFrame ? "x"u8.ToArray() : null, frame?.Payload.ToArray());
    }

    [Fact]
    public async Task Batched_subscriptions_are_woken_one_after_another_on_one_thread_and_each_gets_every_group()
    {
        var track = new MoqTrack("t", TrackInfo.Default);
        using var first = track.Subscribe(null, null, 16, batched: true);
        using var second = track.Subscribe(null, null, 16, batched: true);
        using var own = track.Subscribe();

        for (var sequence = 0UL; sequence < 3; sequence++)
        {
            var woken = new[] { WokenOnAsync(first), WokenOnAsync(second), WokenOnAsync(own) };
            var group = track.AppendGroup();
            group.WriteFrame("x"u8, 0);
            group.Complete();
            var threads = await Task.WhenAll(woken).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(threads[0].Thread, threads[1].Thread);
            Assert.All(threads, woke => Assert.Equal(sequence, woke.Sequence));
        }

        static async Task<(int Thread, ulong Sequence)> WokenOnAsync(TrackSubscription subscription)
        {
            using var reader = (await subscription.NextGroupAsync().ConfigureAwait(false))!;
            return (Environment.CurrentManagedThreadId, reader.Sequence);
        }
    }

    [Fact]
    public async Task An_empty_group_already_queued_is_handed_to_a_subscriber_that_asks()
    {
        var track = new MoqTrack("t", TrackInfo.Default);
        var group = track.AppendGroup();
        using var subscription = track.Subscribe();

        // Only the wake-up waits for the first frame: a caller that asks takes the queued group at once.
        var next = subscription.NextGroupAsync();
        Assert.True(next.IsCompleted);
        using var reader = (await next)!;
        var frame = reader.ReadFrameAsync();
        Assert.False(frame.IsCompleted);
        group.WriteFrame("x"u8, 0);
        Assert.Equal("x"u8.ToArray(), (await frame.AsTask().WaitAsync(TimeSpan.FromSeconds(10)))!.Value.Payload.ToArray());
    }

    [Fact]
    public async Task A_recycled_reader_reads_its_next_group_from_the_start_and_no_longer_holds_the_old_one()
    {
        var track = new MoqTrack("t", TrackInfo.Default);
        using var subscription = track.Subscribe();
        var first = track.AppendGroup();
        first.WriteStrings("zero");
        first.Complete();
        var reader = (await subscription.NextGroupAsync())!;
        Assert.Equal(["zero"], await reader.ReadStringsAsync());
        reader.Dispose();
        subscription.Recycle(reader);

        var second = track.AppendGroup();
        second.WriteStrings("one", "two");
        second.Complete();
        var next = (await subscription.NextGroupAsync())!;
        Assert.Same(reader, next);
        Assert.Equal(1UL, next.Sequence);
        Assert.Equal(["one", "two"], await next.ReadStringsAsync());
        await first.WaitForReadersAsync().WaitAsync(TimeSpan.FromSeconds(10));
        var drained = second.WaitForReadersAsync();
        Assert.False(drained.IsCompleted);
        next.Dispose();
        await drained.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Readers_closed_in_any_order_leave_the_others_waking_and_the_group_drains_after_the_last()
    {
        var group = new MoqTrack("t", TrackInfo.Default).AppendGroup();
        var readers = Enumerable.Range(0, 9).Select(_ => group.OpenReader()).ToList();
        var drained = group.WaitForReadersAsync();
        foreach (var index in new[] { 4, 0, 7 })
        {
            readers[index].Dispose();
        }
        // Closing twice is harmless and does not disturb the slots of the others.
        readers[4].Dispose();
        var open = readers.Where((_, i) => i is not (4 or 0 or 7)).ToList();
        var waits = open.Select(r => r.WaitToReadAsync().AsTask()).ToList();
        group.WriteFrame("a"u8, 0);
        Assert.All(await Task.WhenAll(waits).WaitAsync(TimeSpan.FromSeconds(10)), Assert.True);

        foreach (var reader in open.Skip(1).Reverse())
        {
            reader.Dispose();
        }
        Assert.False(drained.IsCompleted);
        open[0].Dispose();
        await drained.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task An_older_group_arriving_late_is_delivered_even_when_the_cache_keeps_only_the_newest()
    {
        var track = new MoqTrack("t", TrackInfo.Default, maxCachedGroups: 1);
        using var subscription = track.Subscribe();
        var newer = track.CreateGroup(5);
        newer.WriteStrings("new");
        newer.Complete();

        // Evicted from the cache as it is created, yet still being written and read.
        var older = track.CreateGroup(3);
        older.WriteStrings("late", "frames");
        older.Complete();

        using var first = await subscription.NextGroupAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        using var second = await subscription.NextGroupAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(["new"], await first!.ReadStringsAsync());
        Assert.Equal(3UL, second!.Sequence);
        Assert.Equal(["late", "frames"], await second.ReadStringsAsync());
        Assert.Null(track.TryOpenGroup(3));
    }

    [Fact]
    public async Task Frames_of_any_size_and_number_read_back_in_order_across_chunks()
    {
        var random = new Random(7);
        var group = new MoqTrack("t", TrackInfo.Default).AppendGroup();
        using var reader = group.OpenReader();
        var written = new List<byte[]>();
        foreach (var size in new[] { 10, 0, 3000, 70_000, 1, 65_536, 200, 150_000, 5 })
        {
            var payload = new byte[size];
            random.NextBytes(payload);
            group.WriteFrame(payload, written.Count * 10L);
            written.Add(payload);
        }
        group.Complete();

        var index = 0;
        while (await reader.ReadFrameAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)) is { } frame)
        {
            Assert.Equal(written[index], frame.Payload.ToArray());
            Assert.Equal(index * 10L, frame.Timestamp);
            index++;
        }
        Assert.Equal(written.Count, index);
        Assert.Equal(written.Sum(w => (long)w.Length), group.ByteCount);
    }

    [Fact]
    public async Task WaitForReadersAsync_is_done_at_once_for_a_group_nobody_reads()
    {
        var track = new MoqTrack("t", TrackInfo.Default);
        var group = track.AppendGroup();
        group.Complete();
        await group.WaitForReadersAsync().WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_waiting_reader_wakes_for_the_next_frame_and_for_the_end()
    {
        var group = new MoqTrack("t", TrackInfo.Default).AppendGroup();
        using var reader = group.OpenReader();

        var waiting = reader.WaitToReadAsync().AsTask();
        Assert.False(waiting.IsCompleted);
        group.WriteFrame("a"u8, 0);
        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(reader.TryRead(out _));

        waiting = reader.WaitToReadAsync().AsTask();
        Assert.False(waiting.IsCompleted);
        group.Complete();
        Assert.False(await waiting.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Interrupting_a_reader_ends_its_wait_and_every_later_one()
    {
        var group = new MoqTrack("t", TrackInfo.Default).AppendGroup();
        using var reader = group.OpenReader();

        var waiting = reader.WaitToReadAsync().AsTask();
        reader.Interrupt();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        group.WriteFrame("late"u8, 0);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reader.WaitToReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
    }
}
