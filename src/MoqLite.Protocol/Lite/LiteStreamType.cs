namespace MoqLite.Lite;

/// <summary>The varint that opens every bidirectional stream.</summary>
public enum LiteBidiType : ulong
{
    /// <summary>Announce discovery, opened by the side that wants to learn broadcasts.</summary>
    Announce = 0x1,
    /// <summary>A subscription, opened by the subscriber.</summary>
    Subscribe = 0x2,
    /// <summary>A one-group fetch, opened by the subscriber.</summary>
    Fetch = 0x3,
    /// <summary>Bandwidth probe reports, opened by the subscriber.</summary>
    Probe = 0x4,
    /// <summary>GOAWAY, opened by either side.</summary>
    Goaway = 0x5,
    /// <summary>TRACK → TRACK_INFO, opened by the subscriber.</summary>
    Track = 0x6,
}

/// <summary>The varint that opens every unidirectional stream.</summary>
public enum LiteUniType : ulong
{
    /// <summary>One group of frames, opened by the publisher.</summary>
    Group = 0x0,
    /// <summary>The lite-05 SETUP message, opened once by each side.</summary>
    Setup = 0x1,
}
