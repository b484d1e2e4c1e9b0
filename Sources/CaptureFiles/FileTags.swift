// Text tags a recording carries in the file itself (title, artist…), and which container holds which.
import CSndfile

/// A text tag libsndfile writes into a file's own metadata (`sf_set_string`).
///
/// Where each goes, and what holds it (libsndfile 1.2's writers):
/// - WAV (RIFF or RF64): a `LIST`/`INFO` chunk before the audio — INAM, IART, ICMT, ICRD, ISFT,
///   ICOP, IPRD (album), IGNR, ITRK; no license.
/// - CAF: an `info` chunk before the audio, every tag, under libsndfile's keys ("title",
///   "comment", "date", "software"…).
/// - AIFF: NAME, AUTH, ANNO and `(c) ` chunks before the audio: title, artist, comment and
///   copyright only (libsndfile puts software in a private APPL chunk no other reader knows,
///   and drops the rest).
/// - FLAC: Vorbis comments (TITLE, ARTIST…), every tag.
/// - W64: none (libsndfile has no strings for it).
public enum FileTag: String, CaseIterable, Sendable {
    case title, artist, comment, date, software, copyright, album, genre, trackNumber, license

    var sndfileType: Int32 {
        switch self {
        case .title: Int32(SF_STR_TITLE)
        case .artist: Int32(SF_STR_ARTIST)
        case .comment: Int32(SF_STR_COMMENT)
        case .date: Int32(SF_STR_DATE)
        case .software: Int32(SF_STR_SOFTWARE)
        case .copyright: Int32(SF_STR_COPYRIGHT)
        case .album: Int32(SF_STR_ALBUM)
        case .genre: Int32(SF_STR_GENRE)
        case .trackNumber: Int32(SF_STR_TRACKNUMBER)
        case .license: Int32(SF_STR_LICENSE)
        }
    }
}

extension FileType {
    /// The tags this container keeps (see `FileTag`); others given to a recording are skipped.
    public var heldTags: Set<FileTag> {
        switch self {
        case .wav: Set(FileTag.allCases).subtracting([.license])
        case .caf, .flac: Set(FileTag.allCases)
        case .aiff: [.title, .artist, .comment, .copyright]
        case .w64: []
        }
    }
}

extension BroadcastInfo {
    /// What a CAF recording's `info` chunk says of it in place of a bext chunk, under libsndfile's
    /// keys (the only ones it writes): the Description as "comment" (when there is one), the
    /// Originator as "software" (libsndfile appends its own name), and the origination date and
    /// time as "date" (ISO 8601, local: `2026-06-17T12:34:56`). A tag given for the recording wins
    /// over these. The coding history has no key there (it would only muddle "comment"), nor
    /// does TimeReference.
    func cafTags(rate: Int) -> [FileTag: String] {
        let (date, time) = origination(rate: rate)
        var tags: [FileTag: String] = [.software: software, .date: "\(date)T\(time)"]
        if !description.isEmpty { tags[.comment] = description }
        return tags
    }
}
