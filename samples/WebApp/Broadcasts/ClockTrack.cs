using System.Globalization;
using System.Text;
using MoqLite.AspNetCore.Broadcasts;

namespace MoqLite.Samples.WebApp.Broadcasts;

/// <summary>The clock: one group per second holding the time as text, produced only while someone watches.</summary>
public sealed class ClockTrack(TimeProvider time) : MoqTrackHandler
{
    /// <inheritdoc/>
    public override async Task RunAsync(MoqTrackContext context, CancellationToken cancellationToken)
    {
        using var ticks = new PeriodicTimer(TimeSpan.FromSeconds(1), time);
        do
        {
            var now = time.GetUtcNow();
            var group = context.AppendGroup();
            group.WriteFrame(Encoding.UTF8.GetBytes(now.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)), now.ToUnixTimeMilliseconds());
            group.Complete();
        }
        while (await ticks.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
    }
}
