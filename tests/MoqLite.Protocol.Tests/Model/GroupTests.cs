using MoqLite.Model;

namespace MoqLite.Protocol.Tests.Model;

public class GroupTests
{
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

    [Fact]
    public async Task WaitForReadersAsync_is_done_at_once_for_a_group_nobody_reads()
    {
        var track = new MoqTrack("t", TrackInfo.Default);
        var group = track.AppendGroup();
        group.Complete();
        await group.WaitForReadersAsync().WaitAsync(TimeSpan.FromSeconds(10));
    }
}
