namespace MoqLite.Protocol.Tests;

/// <summary>A clock that moves only when a test says so, in milliseconds.</summary>
internal sealed class ManualClock : TimeProvider
{
    private long _milliseconds = 1_000_000;

    public override long TimestampFrequency => 1000;

    public override long GetTimestamp() => Interlocked.Read(ref _milliseconds);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _milliseconds, (long)by.TotalMilliseconds);
}
