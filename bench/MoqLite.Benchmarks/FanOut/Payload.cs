using System.Buffers.Binary;
using System.Diagnostics;

namespace MoqLite.Benchmarks.FanOut;

/// <summary>
/// Every benchmark frame starts with the publisher's monotonic timestamp. Stopwatch ticks are CLOCK_MONOTONIC on
/// Linux, shared by all processes on the host, so the subscriber process can compute publish→receive latency.
/// </summary>
internal static class Payload
{
    public static void Stamp(Span<byte> frame) => BinaryPrimitives.WriteInt64LittleEndian(frame, Stopwatch.GetTimestamp());

    public static long LatencyMicros(ReadOnlySpan<byte> frame) =>
        (Stopwatch.GetTimestamp() - BinaryPrimitives.ReadInt64LittleEndian(frame)) * 1_000_000 / Stopwatch.Frequency;
}

/// <summary>What one benchmark run asks of the server and the subscribers.</summary>
internal sealed record RunConfig(string Mode, int Subscribers, int FrameSize, int RateHz, bool SlowConsumer)
{
    public string Label => $"{Mode} N={Subscribers} {FrameSize / 1024}KB {(RateHz == 0 ? "flat-out" : RateHz + "/s")}{(SlowConsumer ? " slow" : "")}";
}
